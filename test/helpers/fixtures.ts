import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
} from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const TESTDATA = join(import.meta.dirname, "..", "..", "testdata");

/** DER of a certificate under testdata/ (PEM file). */
export function certDer(path: string): Uint8Array {
  return new Uint8Array(new X509Certificate(readFileSync(join(TESTDATA, path))).raw);
}

/** SHA-256 of a public key's SubjectPublicKeyInfo DER, hex, by node:crypto (not trailseal). */
const spkiSha256 = (key: KeyObject): string =>
  createHash("sha256")
    .update(key.export({ type: "spki", format: "der" }))
    .digest("hex");

/** A private key under testdata/ with its SPKI fingerprint, as stanzas want it. */
export function stanzaKey(path: string) {
  const key = createPrivateKey(readFileSync(join(TESTDATA, path)));
  return { key, spkiFingerprint: spkiSha256(createPublicKey(key)) };
}

/** The SPKI fingerprint of a certificate under testdata/ (PEM file), as trailseal names recipients. */
export function certSpkiFingerprint(path: string): string {
  return spkiSha256(new X509Certificate(readFileSync(join(TESTDATA, path))).publicKey);
}

/** Deterministic "randomness" for tests that want reproducible trails. */
export function counterRandom(seed = 1): (n: number) => Uint8Array {
  let counter = seed;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 32) {
      const block = createHash("sha256").update(`trailseal test random ${counter++}`).digest();
      out.set(block.subarray(0, Math.min(32, n - i)), i);
    }
    return out;
  };
}

export async function* chunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.subarray(i, i + size);
}
