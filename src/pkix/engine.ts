/**
 * The PKIX adapter's set-up. pkijs, asn1js, @peculiar/x509 and node-forge are imported only under
 * src/pkix/; nothing outside this folder sees their types. Data crosses the boundary as DER bytes
 * (Uint8Array): @peculiar/x509 carries its own copy of asn1js, so objects never pass between it
 * and pkijs. pkijs serves envelopes and PKCS#12; @peculiar/x509 (with reflect-metadata) is loaded
 * only when a certificate is issued (loadX509), node-forge only for legacy PKCS#12 ciphers.
 */
import { webcrypto } from "node:crypto";
import * as pkijs from "pkijs";

const engine = new pkijs.CryptoEngine({
  name: "node",
  crypto: webcrypto as unknown as Crypto,
});
pkijs.setEngine("node", engine);

export { pkijs };

type X509 = typeof import("@peculiar/x509");
let x509: Promise<X509> | undefined;

/** @peculiar/x509, set up on first use (it needs reflect-metadata loaded before it). */
export function loadX509(): Promise<X509> {
  x509 ??= (async () => {
    await import("reflect-metadata");
    const module = await import("@peculiar/x509");
    module.cryptoProvider.set(webcrypto as unknown as Crypto);
    return module;
  })();
  return x509;
}
