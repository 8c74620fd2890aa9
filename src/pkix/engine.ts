/**
 * The PKIX adapter's set-up of pkijs. pkijs, asn1js, @peculiar/x509 and node-forge are imported
 * only under src/pkix/; nothing outside this folder sees their types. Data crosses the boundary as
 * DER bytes (Uint8Array): @peculiar/x509 carries its own copy of asn1js, so objects never pass
 * between it and pkijs.
 *
 * pkijs serves envelopes (envelope.ts) and PKCS#12 (pkcs12.ts) only, and both are loaded with a
 * dynamic import() (recipients.ts, pem.ts, keys.ts), so this module and pkijs/asn1js (~800 KB
 * bundled) load only when a stanza is made or opened or a PKCS#12 file is read: never to verify,
 * inspect, or read PEM (issue 9; test/bundle.test.ts asserts it). A static import of this module
 * from anywhere else undoes that. @peculiar/x509 is loaded by certify.ts when a certificate is
 * issued, node-forge by pkcs12.ts for legacy ciphers.
 */
import { webcrypto } from "node:crypto";
import * as pkijs from "pkijs";
import * as asn1js from "asn1js";
import { toArrayBuffer } from "../bytes.js";

const engine = new pkijs.CryptoEngine({
  name: "node",
  crypto: webcrypto as unknown as Crypto,
});
pkijs.setEngine("node", engine);

export { pkijs };

/**
 * asn1js's parse with a node limit from the input's size instead of its default 10,000, which a
 * PKCS#12 bundle of a few hundred CA certificates exceeds. Every node takes at least two bytes,
 * so the work stays bounded by the input. Throws when the bytes do not parse.
 */
export function parseAsn1(bytes: Uint8Array): asn1js.AsnType {
  const parsed = asn1js.fromBER(toArrayBuffer(bytes), {
    maxNodes: Math.max(10_000, bytes.byteLength),
  });
  if (parsed.offset === -1) throw new Error(parsed.result.error);
  return parsed.result;
}
