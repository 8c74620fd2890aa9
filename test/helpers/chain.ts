/**
 * The integrity chain of a trail's bytes, computed here from docs/FORMAT.md ("Integrity chain")
 * with node:crypto alone, not by trailseal's reader: so a test of a CHAIN_BROKEN refusal can
 * name both heads the error must give, the one the checkpoint claims and the one the records
 * before it hash to.
 */
import { createHash } from "node:crypto";

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest();
};

const CHECKPOINT = 2;

/**
 * The CHAIN_BROKEN message for checkpoint `k` (1-based) of `trail`: `record S: checkpoint k
 * covers chain head CLAIMED, but records 0-(S-1) hash to COMPUTED`, S the checkpoint's seq.
 */
export function chainBrokenAt(trail: Uint8Array, k: number): string {
  const bytes = Buffer.from(trail.buffer, trail.byteOffset, trail.byteLength);
  const sealedEnd = 14 + bytes.readUInt32BE(10);
  let head = sha256(bytes.subarray(0, sealedEnd)); // head_0 = SHA-256(sealed header bytes)
  let at = sealedEnd + 4 + bytes.readUInt32BE(sealedEnd); // past the annex, outside the chain
  let checkpoints = 0;
  while (at + 24 <= bytes.byteLength) {
    const end = at + 24 + bytes.readUInt32BE(at + 20);
    const seq = Number(bytes.readBigUInt64BE(at + 4));
    if (bytes[at] === CHECKPOINT && ++checkpoints === k) {
      const contentLength = bytes.readUInt32BE(at + 24);
      const content = bytes.subarray(at + 28, at + 28 + contentLength).toString("utf8");
      const claimed = /^head: ([0-9a-f]{64})$/m.exec(content)?.[1];
      if (claimed === undefined) throw new Error(`checkpoint ${k} (record ${seq}) has no head`);
      return `record ${seq}: checkpoint ${k} covers chain head ${claimed}, but records 0-${seq - 1} hash to ${head.toString("hex")}`;
    }
    head = sha256(head, sha256(bytes.subarray(at, end))); // head_{i+1} = SHA-256(head_i || digest_i)
    at = end;
  }
  throw new Error(`the trail has no checkpoint ${k}`);
}
