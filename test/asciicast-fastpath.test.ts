/**
 * The asciicast importer reads the common event line (`[t, "o"|"i", "text"]`) with a byte
 * parser (CommonEventReader) and every other line with JSON.parse (readEventGeneral). Whatever
 * the fast parser accepts must give exactly the event the general path gives; what it declines
 * goes to the general path, which then gives its own result or error.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CommonEventReader, readEventGeneral } from "../src/formats/asciicast.js";
import { Rng } from "./fuzz/mutate.js";

const RECORDINGS = join(import.meta.dirname, "..", "testdata", "recordings");
const enc = new TextEncoder();

function general(bytes: Uint8Array): { t: number; code: string; data: unknown } | string {
  try {
    const f = readEventGeneral({ number: 2, bytes, terminated: true }, "x.cast");
    const data = typeof f.data === "string" ? Array.from(enc.encode(f.data)) : f.data;
    return { t: f.t, code: f.code, data };
  } catch (e) {
    return (e as Error).message;
  }
}

function fast(bytes: Uint8Array): { t: number; code: string; data: unknown } | undefined {
  const f = new CommonEventReader().read(bytes);
  return f === undefined
    ? undefined
    : { t: f.t, code: f.code, data: Array.from(f.data as Uint8Array) };
}

function eventLines(file: string): Uint8Array[] {
  const text = readFileSync(join(RECORDINGS, file), "utf8");
  return text
    .split("\n")
    .slice(1)
    .filter((l) => l.startsWith("["))
    .map((l) => enc.encode(l));
}

const GOOD = [
  "a",
  "é",
  "😀",
  "\\n",
  "\\r\\n",
  "\\u001b[1;32m",
  '\\"',
  "\\\\",
  "\\/",
  "\\ud83d\\ude00",
  "\\u00e9",
  "\\uD83D\\uDE00",
  " ",
];
/** Pieces that make a line invalid JSON, or one only JSON.parse may judge. */
const BAD = ["\\ud83d", "\\ude00", "\\x", "\u0001", "\t", '"', "\\"];
const TIMES = [
  "0",
  "1",
  "0.5",
  "12.345678",
  "007",
  "-0",
  "1e3",
  "1.",
  ".5",
  "123456789.123456",
  "1234567890.1234567",
  "0.000001",
  " 3.25 ",
  "1E-2",
  "-1.5",
];

describe("asciicast: the fast event parser gives what JSON.parse gives", () => {
  it("takes every event line of the fixtures and agrees with the general path on each", () => {
    const files = ["short.cast", "admin-session.cast", "short-v3.cast"];
    let taken = 0;
    for (const file of files) {
      for (const line of eventLines(file)) {
        const f = fast(line);
        const g = general(line);
        if (f !== undefined) {
          taken++;
          expect(f, `${file}: ${new TextDecoder().decode(line)}`).toEqual(g);
        }
      }
    }
    // The fixtures' o and i lines take the fast path (resize and marker lines do not).
    const oi = files
      .flatMap(eventLines)
      .filter((l) => /^\[[0-9.]+, "[oi]", /.test(new TextDecoder().decode(l))).length;
    expect(oi).toBeGreaterThan(0);
    expect(taken).toBe(oi);
  });

  it("agrees on 20,000 generated lines, hostile ones among them (seed 20261202)", () => {
    const rng = new Rng(20261202);
    const pick = <T>(a: readonly T[]): T => rng.pick(a);
    /** True one time in `n`. */
    const oneIn = (n: number): boolean => rng.below(n) === 0;
    let taken = 0;
    for (let n = 0; n < 20_000; n++) {
      let text = "";
      for (let k = rng.below(8); k > 0; k--) text += oneIn(33) ? pick(BAD) : pick(GOOD);
      const code = pick(["o", "i", "r", "m", "O", "oo"]);
      let line = `[${pick(TIMES)}, "${code}", "${text}"]`;
      if (oneIn(10)) line = line.replace(", ", ",");
      if (oneIn(20)) line = ` ${line} `;
      if (oneIn(20)) line = line.slice(0, rng.below(line.length));
      let bytes = enc.encode(line);
      if (oneIn(10)) {
        bytes = Uint8Array.from(bytes);
        bytes[rng.below(bytes.length)] = rng.below(256);
      }
      const f = fast(bytes);
      if (f === undefined) continue;
      taken++;
      expect(f, `line ${n}: ${Buffer.from(bytes).toString("hex")}`).toEqual(general(bytes));
    }
    expect(taken).toBeGreaterThan(2_000);
  });

  it("declines what only JSON.parse may judge: signs, exponents, leading zeros, lone surrogates, control bytes, bad UTF-8", () => {
    const declined = [
      '[-0, "o", "a"]',
      '[1e3, "o", "a"]',
      '[007, "o", "a"]',
      '[1, "o", "\\ud83d"]',
      '[1, "o", "a\u0001"]',
      '[1, "r", "80x24"]',
      '[1, "o", "a"',
      '[1234567890.1234567, "o", "a"]',
    ].map((s) => enc.encode(s));
    declined.push(Uint8Array.from([...enc.encode('[1, "o", "'), 0xff, ...enc.encode('"]')]));
    for (const bytes of declined) expect(new CommonEventReader().read(bytes)).toBeUndefined();
  });
});
