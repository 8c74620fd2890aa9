/**
 * Mutation of seed inputs, AFL style: bit flips, interesting values over bytes and over 16/32-bit
 * big-endian fields (the length fields of the trail format and of DER), inserts, deletes,
 * duplicated runs, truncation and splicing of two seeds. A seeded PRNG, so a run is replayable.
 */

/** xorshift128+ over BigInt-free 32-bit halves: fast and seedable. */
export class Rng {
  private s: Uint32Array;
  constructor(seed: number) {
    this.s = new Uint32Array([seed >>> 0 || 1, 0x9e3779b9, 0x243f6a88, 0xb7e15162]);
    for (let i = 0; i < 16; i++) this.u32();
  }
  u32(): number {
    const s = this.s;
    let t = s[3]!;
    t ^= t << 11;
    t ^= t >>> 8;
    s[3] = s[2]!;
    s[2] = s[1]!;
    s[1] = s[0]!;
    s[0] = (t ^ s[0]! ^ (s[0]! >>> 19)) >>> 0;
    return s[0]!;
  }
  /** 0 <= n < max */
  below(max: number): number {
    return max <= 0 ? 0 : this.u32() % max;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

const INTERESTING_8 = [
  0x00, 0x01, 0x7f, 0x80, 0xff, 0x30, 0x02, 0x04, 0x05, 0x06, 0xa0, 0x81, 0x82, 0x84,
];
const INTERESTING_32 = [
  0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x100000, 0x100001, 0x1000000, 0x1000001,
  0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
];

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** One to four stacked mutations of `seed` (another seed may be spliced in). */
export function mutate(rng: Rng, seed: Uint8Array, seeds: readonly Uint8Array[]): Uint8Array {
  let b: Uint8Array = seed.slice();
  const rounds = 1 + rng.below(4);
  for (let r = 0; r < rounds; r++) {
    const at = rng.below(b.byteLength);
    switch (rng.below(11)) {
      case 0:
        if (b.byteLength > 0) b[at]! ^= 1 << rng.below(8);
        break;
      case 1:
        if (b.byteLength > 0) b[at] = rng.pick(INTERESTING_8);
        break;
      case 2:
      case 3: {
        // A big-endian length field claims something else: 16 or 32 bits.
        if (b.byteLength < 4) break;
        const v = rng.pick(INTERESTING_32);
        const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const pos = Math.min(at, b.byteLength - 4);
        if (rng.below(2) === 0) view.setUint32(pos, v);
        else view.setUint16(pos, v & 0xffff);
        break;
      }
      case 4:
        b = concat(b.subarray(0, at), rng.bytes(1 + rng.below(16)), b.subarray(at));
        break;
      case 5:
        b = concat(b.subarray(0, at), b.subarray(at + 1 + rng.below(64)));
        break;
      case 6: {
        // Duplicate a run (records written twice, repeated TLVs).
        const len = 1 + rng.below(256);
        b = concat(b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len));
        break;
      }
      case 7:
        b = b.subarray(0, at).slice();
        break;
      case 8: {
        const other = rng.pick(seeds);
        const from = rng.below(other.byteLength);
        b = concat(
          b.subarray(0, at),
          other.subarray(from, from + 1 + rng.below(512)),
          b.subarray(at),
        );
        break;
      }
      case 9:
        for (let i = 0; i < 8 && b.byteLength > 0; i++)
          b[rng.below(b.byteLength)] = rng.u32() & 0xff;
        break;
      default: {
        // Swap two runs (reordered records or elements).
        const len = 1 + rng.below(64);
        const j = rng.below(b.byteLength);
        if (at + len <= b.byteLength && j + len <= b.byteLength && Math.abs(at - j) >= len) {
          const x = b.slice(at, at + len);
          b.copyWithin(at, j, j + len);
          b.set(x, j);
        }
      }
    }
  }
  return b;
}
