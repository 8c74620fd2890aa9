/**
 * The testkit's vector file format (docs/TESTKIT.md), shared by the generator and the test:
 * `key: value` header lines, a blank line, then the trail bytes exactly as a file holds them.
 */
import { join, relative } from "node:path";
import type {
  IntegrityVerdict,
  SignatureVerdict,
  TimestampVerdict,
  Verdict,
} from "../../src/verify/verdict.js";
import { TESTDATA, certDer, stanzaKey as fixtureKey } from "../../test/helpers/fixtures.js";

/** The repository root: vector headers name files relative to it (testdata/...). */
export const ROOT = join(import.meta.dirname, "..", "..");

export interface VectorHeader {
  /** `valid`, or the error code of the first failure (see docs/TESTKIT.md). */
  expect: string;
  /** The verdict in one line: integrity, signature, timestamp and channel states. */
  verdict: string;
  /** Private keys (PEM files) to open the channels with. */
  keys: string[];
  /** Trust anchors for checkpoint signers. */
  ca: string[];
  /** Trust anchors for TSAs. */
  tsaCa: string[];
  /** The time at which the expectation holds (ISO 8601). */
  now: string;
  comment: string;
}

const ORDER: [keyof VectorHeader, string][] = [
  ["expect", "expect"],
  ["verdict", "verdict"],
  ["keys", "keys"],
  ["ca", "ca"],
  ["tsaCa", "tsa-ca"],
  ["now", "now"],
  ["comment", "comment"],
];

export function encodeVector(h: VectorHeader, trail: Uint8Array): Uint8Array {
  const lines: string[] = [];
  for (const [field, key] of ORDER) {
    const value = h[field];
    if (Array.isArray(value)) {
      if (value.length > 0) lines.push(`${key}: ${value.join(", ")}`);
    } else lines.push(`${key}: ${value}`);
  }
  return new Uint8Array(Buffer.concat([Buffer.from(`${lines.join("\n")}\n\n`), trail]));
}

export function decodeVector(file: Uint8Array): { header: VectorHeader; trail: Uint8Array } {
  const end = Buffer.from(file).indexOf("\n\n");
  if (end < 0) throw new Error("vector has no blank line after its header");
  const fields = new Map<string, string>();
  for (const line of Buffer.from(file.subarray(0, end)).toString("utf8").split("\n")) {
    const m = /^([a-z-]+): (.*)$/.exec(line);
    if (m === null) throw new Error(`bad vector header line: ${line}`);
    if (fields.has(m[1]!)) throw new Error(`header key ${m[1]!} given twice`);
    fields.set(m[1]!, m[2]!);
  }
  const list = (k: string) => (fields.get(k) ?? "").split(", ").filter((s) => s !== "");
  const one = (k: string) => {
    const v = fields.get(k);
    if (v === undefined) throw new Error(`vector header lacks ${k}`);
    return v;
  };
  for (const k of fields.keys()) {
    if (!ORDER.some(([, key]) => key === k)) throw new Error(`unknown vector header key ${k}`);
  }
  return {
    header: {
      expect: one("expect"),
      verdict: one("verdict"),
      keys: list("keys"),
      ca: list("ca"),
      tsaCa: list("tsa-ca"),
      now: one("now"),
      comment: one("comment"),
    },
    trail: file.subarray(end + 2),
  };
}

/** A path of a vector header (relative to the repository root) as the fixtures name it. */
const fixture = (path: string) => relative(TESTDATA, join(ROOT, path));

/** A certificate file named in a header, as DER. */
export const certificateDer = (path: string): Uint8Array => certDer(fixture(path));

/** A private key file named in a header, with the SPKI fingerprint stanzas are matched by. */
export const stanzaKey = (path: string) => fixtureKey(fixture(path));

/** The parts of a verdict the vectors pin (its discriminated states, src/verify/verdict.ts). */
export type VerdictFacts = Pick<
  Verdict,
  "valid" | "failed" | "integrity" | "signature" | "timestamp" | "downstream" | "upstream"
>;

/**
 * The code an integrity verdict fails with: a truncated trail carries a reason, not an error, and
 * its code is `TRUNCATED` (docs/TESTKIT.md, "expect"); a tampered one carries its error.
 */
function integrityCode(i: IntegrityVerdict): string | null {
  switch (i.state) {
    case "complete":
      return null;
    case "truncated":
      return "TRUNCATED";
    case "tampered":
      return i.error.code;
  }
}

/** The code of a signature or timestamp verdict that is not valid: its error, when it has one. */
const failureCode = (s: SignatureVerdict | TimestampVerdict): string | null =>
  s.state === "valid" ? null : (s.error?.code ?? null);

/** The `expect:` and `verdict:` values a verdict gives (docs/TESTKIT.md). */
export function summarize(v: VerdictFacts): { expect: string; verdict: string } {
  const i = v.integrity;
  const expect = v.valid
    ? "valid"
    : (integrityCode(i) ??
      failureCode(v.signature) ??
      failureCode(v.timestamp) ??
      `failed:${v.failed.join(",")}`);
  const verdict = [
    `integrity=${i.state}${i.state === "tampered" ? `@${i.firstBadRecord}` : ""}`,
    `signature=${v.signature.state}`,
    `timestamp=${v.timestamp.state}`,
    `downstream=${v.downstream?.state ?? "unknown"}`,
    `upstream=${v.upstream?.state ?? "unknown"}`,
  ].join(" ");
  return { expect, verdict };
}
