/**
 * The PKIX adapter's set-up. pkijs, asn1js, @peculiar/x509 and node-forge are imported only under
 * src/pkix/; nothing outside this folder sees their types. Data crosses the boundary as DER bytes
 * (Uint8Array): @peculiar/x509 carries its own copy of asn1js, so objects never pass between it
 * and pkijs. pkijs serves envelopes and PKCS#12; @peculiar/x509 (with reflect-metadata) is loaded
 * only when a certificate is issued (loadX509), node-forge only for legacy PKCS#12 ciphers.
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

type X509 = typeof import("@peculiar/x509");
let x509: Promise<X509> | undefined;

/** @peculiar/x509, set up on first use (it needs reflect-metadata loaded before it). */
export function loadX509(): Promise<X509> {
  x509 ??= (async () => {
    await import("reflect-metadata");
    const imported = await import("@peculiar/x509");
    // Bundled, the CommonJS build comes as a namespace whose `default` holds the exports.
    const module =
      (imported as Partial<X509>).cryptoProvider === undefined
        ? (imported as unknown as { default: X509 }).default
        : imported;
    module.cryptoProvider.set(webcrypto as unknown as Crypto);
    return module;
  })();
  return x509;
}
