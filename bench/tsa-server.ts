/**
 * A TSA server for the benchmark when the built CLI has no `tsa serve` yet: the library's
 * startTsaServer on 127.0.0.1 with a free port, its URL on stdout, stopped by SIGTERM.
 *   node --import tsx bench/tsa-server.ts CERT KEY
 */
import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { startTsaServer } from "../src/timestamp/server.js";
import { LOCAL_POLICY_OID, serialSource } from "../src/timestamp/token.js";

const [cert, key] = process.argv.slice(2);
if (cert === undefined || key === undefined) throw new Error("usage: tsa-server.ts CERT KEY");
const server = await startTsaServer({
  tsa: {
    chain: [new Uint8Array(new X509Certificate(readFileSync(cert)).raw)],
    key: createPrivateKey(readFileSync(key)),
  },
  policyOid: LOCAL_POLICY_OID,
  host: "127.0.0.1",
  port: 0,
  clock: () => new Date(),
  serial: serialSource((n) => new Uint8Array(randomBytes(n))),
  accuracyMillis: 1000,
  // One line per request, as `tsa serve` logs them, so both modes pay the same cost.
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${server.url}\n`);
process.once("SIGTERM", () => void server.close());
