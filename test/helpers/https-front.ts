/**
 * An HTTPS front for a TSA on 127.0.0.1: a TLS server, its certificate made here by openssl
 * (self-signed, SAN IP:127.0.0.1), that forwards each request to an HTTP TSA and its answer back.
 * It stands for a TSA behind a private TLS CA.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface HttpsFront {
  readonly url: string;
  /** The TLS certificate (PEM), which is also its own CA. */
  readonly tlsCert: string;
  close(): Promise<void>;
}

export async function startHttpsFront(dir: string, upstream: string): Promise<HttpsFront> {
  const key = join(dir, "tls-front.key");
  const tlsCert = join(dir, "tls-front.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      key,
      "-out",
      tlsCert,
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "pipe" },
  );
  const server = createServer(
    { key: readFileSync(key), cert: readFileSync(tlsCert) },
    (req, res) => {
      const up = request(upstream, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on("error", () => res.writeHead(502).end());
      req.pipe(up);
    },
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    tlsCert,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
