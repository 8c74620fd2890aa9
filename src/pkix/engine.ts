/**
 * The PKIX adapter's set-up. pkijs, asn1js, @peculiar/x509 and node-forge are imported only under
 * src/pkix/; nothing outside this folder sees their types. Data crosses the boundary as DER bytes
 * (Uint8Array): @peculiar/x509 carries its own copy of asn1js, so objects never pass between it
 * and pkijs.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as pkijs from "pkijs";
import * as x509 from "@peculiar/x509";

const engine = new pkijs.CryptoEngine({
  name: "node",
  crypto: webcrypto as unknown as Crypto,
});
pkijs.setEngine("node", engine);
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { pkijs, x509 };
