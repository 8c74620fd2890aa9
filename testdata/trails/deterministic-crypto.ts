/**
 * Fixed randomness for the vector generator, installed before anything else runs.
 *
 * The writer takes its randomness injected, but the CMS stanzas (src/pkix/envelope.ts) draw their
 * content-encryption key and IV from `node:crypto`'s randomBytes, and RSAES-OAEP draws its seed
 * inside OpenSSL. So this process replaces `randomBytes` with a SHA-256 counter stream and
 * `publicEncrypt` (OAEP only) with RFC 8017 §7.1.1 OAEP encoding over that stream followed by a
 * raw RSA operation. The ciphertexts are ordinary OAEP: any decryptor (openssl cms -decrypt)
 * opens them; only their seeds are predictable, which is what a test vector wants and nothing else
 * may ever want. `syncBuiltinESMExports` makes ES-module importers of node:crypto see the change.
 *
 * EC stanzas (an ephemeral ECDH key made by OpenSSL) and ECDSA signatures cannot be fixed this
 * way, so the vectors use RSA recipients, RSA signers and an RSA TSA only.
 */
import { createRequire, syncBuiltinESMExports } from "node:module";

const require = createRequire(import.meta.url);
const nodeCrypto = require("node:crypto") as typeof import("node:crypto");
const { createHash, publicEncrypt, constants } = nodeCrypto;

let stream = { label: "", counter: 0 };

/** Restarts the fixed stream (one label per vector, so vectors do not depend on each other). */
export function reseed(label: string): void {
  stream = { label, counter: 0 };
}

/** n bytes of the fixed stream. */
export function fixedBytes(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += 32) {
    const block = createHash("sha256")
      .update(`trailseal testkit ${stream.label} ${stream.counter++}`)
      .digest();
    block.copy(out, i, 0, Math.min(32, n - i));
  }
  return out;
}

/** MGF1 with SHA-256 (RFC 8017 §B.2.1). */
function mgf1(seed: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0, c = 0; i < length; i += 32, c++) {
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(c);
    createHash("sha256")
      .update(seed)
      .update(counter)
      .digest()
      .copy(out, i, 0, Math.min(32, length - i));
  }
  return out;
}

/** RSAES-OAEP-ENCRYPT with SHA-256, MGF1-SHA-256 and an empty label (RFC 8017 §7.1.1). */
function oaepEncrypt(key: import("node:crypto").KeyLike, message: Uint8Array): Buffer {
  const pub =
    key instanceof nodeCrypto.KeyObject && key.type === "public"
      ? key
      : nodeCrypto.createPublicKey(key as import("node:crypto").KeyObject);
  const k = (pub.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  const hLen = 32;
  const lHash = createHash("sha256").update(Buffer.alloc(0)).digest();
  const db = Buffer.alloc(k - hLen - 1);
  lHash.copy(db, 0);
  db[k - hLen - 2 - message.byteLength] = 0x01;
  Buffer.from(message).copy(db, k - hLen - 1 - message.byteLength);
  const seed = fixedBytes(hLen);
  const dbMask = mgf1(seed, db.byteLength);
  for (let i = 0; i < db.byteLength; i++) db[i]! ^= dbMask[i]!;
  const seedMask = mgf1(db, hLen);
  for (let i = 0; i < hLen; i++) seed[i]! ^= seedMask[i]!;
  const em = Buffer.concat([Buffer.from([0]), seed, db]);
  return publicEncrypt({ key: pub, padding: constants.RSA_NO_PADDING }, em);
}

type Encrypt = typeof publicEncrypt;
const patched = nodeCrypto as unknown as {
  randomBytes: (n: number) => Buffer;
  publicEncrypt: Encrypt;
};
patched.randomBytes = (n: number) => fixedBytes(n);
patched.publicEncrypt = ((key: Parameters<Encrypt>[0], buffer: NodeJS.ArrayBufferView) => {
  const options = key as {
    key: import("node:crypto").KeyLike;
    padding?: number;
    oaepHash?: string;
  };
  if (typeof options === "object" && options.padding === constants.RSA_PKCS1_OAEP_PADDING) {
    if (options.oaepHash !== "sha256") throw new Error("the testkit fixes OAEP SHA-256 only");
    return oaepEncrypt(
      options.key,
      new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength),
    );
  }
  return publicEncrypt(key, buffer);
}) as Encrypt;
syncBuiltinESMExports();
