/**
 * A remote TSA that misbehaves, met by `trailseal record`: each misbehaviour is refused with a
 * warning that names the TSA and what it did, the checkpoint is written unstamped and the verdict
 * names it, the next URL is tried, and a TSA that sends slowly or endlessly is cut off at
 * `--tsa-timeout` or the size limit. The servers run on 127.0.0.1 for the length of the test.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeTimeStampReq, encodeTimeStampResp } from "../src/pkix/tsp.js";
import { startTsaServer, type TsaServer } from "../src/timestamp/server.js";
import { LOCAL_POLICY_OID, issueToken, serialSource } from "../src/timestamp/token.js";
import { runCli } from "./helpers/io.js";
import { pkiPath, sha256, tsaFixture } from "./helpers/tsa.js";

const TSA = tsaFixture("tsa");
const DOWN = "http://127.0.0.1:9/";
const DOWN_REASON = `TSA ${DOWN} is unreachable: connect ECONNREFUSED 127.0.0.1:9`;
let dir: string;
const p = (name: string) => join(dir, name);
let good: TsaServer;
let serial = 1n;

interface Hostile {
  readonly url: string;
  /** Connections the server accepted. */
  connections: number;
  /** Responses the client walked away from before they were complete. */
  abandoned: number;
  /** The imprint and nonce (hex) of the last request it was sent. */
  last: { digest: string; nonce: string };
  close(): Promise<void>;
}

type Behaviour = (body: Uint8Array, res: ServerResponse) => void;

/** A good token for the request in `body`, with `change` applied to what it stamps. */
function token(body: Uint8Array, change: { digest?: Uint8Array; nonce?: bigint } = {}): Uint8Array {
  const request = decodeTimeStampReq(body);
  return encodeTimeStampResp({
    status: 0,
    token: issueToken(TSA, {
      hashAlgorithmDer: request.hashAlgorithmDer,
      digest: change.digest ?? request.digest,
      nonce: change.nonce ?? request.nonce,
      policyOid: LOCAL_POLICY_OID,
      serial: serial++,
      genTime: new Date(),
      includeCertificates: true,
    }),
  });
}

const REPLY = { "content-type": "application/timestamp-reply" };

async function hostile(behave: Behaviour, tls?: { key: Buffer; cert: Buffer }): Promise<Hostile> {
  const state = { connections: 0, abandoned: 0, last: { digest: "", nonce: "" } };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = new Uint8Array(Buffer.concat(chunks));
      const request = decodeTimeStampReq(body);
      state.last = {
        digest: Buffer.from(request.digest).toString("hex"),
        nonce: request.nonce!.toString(16),
      };
      behave(body, res);
    });
    res.socket?.once("close", () => {
      if (!res.writableFinished) state.abandoned++;
    });
  };
  const server: Server =
    tls === undefined ? createServer(handler) : createHttpsServer(tls, handler);
  server.on(tls === undefined ? "connection" : "secureConnection", () => state.connections++);
  if (tls !== undefined) server.on("tlsClientError", () => state.connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `${tls === undefined ? "http" : "https"}://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((r) => {
        (server as ReturnType<typeof createServer>).closeAllConnections?.();
        server.close(() => r());
      }),
  });
}

/** Writes `bytes` one byte a second, as long as the client stays. */
function trickle(res: ServerResponse, bytes: Uint8Array): void {
  res.writeHead(200, { ...REPLY, "content-length": String(bytes.byteLength) });
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed || i >= bytes.byteLength) return clearInterval(timer);
    res.write(bytes.subarray(i, ++i));
  }, 1000);
}

/** Writes 64 KiB blocks until 64 MiB are sent or the client goes. */
function flood(res: ServerResponse): void {
  res.writeHead(200, REPLY);
  const block = Buffer.alloc(65536, 0x30);
  let left = 1024;
  const more = (): void => {
    while (left > 0 && !res.destroyed) {
      left--;
      if (!res.write(block)) return void res.once("drain", more);
    }
    if (!res.destroyed) res.end();
  };
  more();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "trailseal-tsa-hostile-"));
  good = await startTsaServer({
    tsa: TSA,
    policyOid: LOCAL_POLICY_OID,
    port: 0,
    clock: () => new Date(),
    serial: serialSource((n) => new Uint8Array(randomBytes(n))),
  });
});

afterAll(async () => {
  await good.close();
  await rm(dir, { recursive: true, force: true });
});

/** `trailseal record` of a short command, stamped by `urls` in order. */
async function record(
  name: string,
  urls: readonly string[],
  extra: readonly string[] = [],
  timeout = "1",
) {
  const policy = await runCli([
    "policy",
    "create",
    "--name",
    name,
    "--timestamp",
    urls[0]!,
    "--interval",
    "10",
    "-o",
    p(`${name}.json`),
  ]);
  expect(policy.code, policy.stderr).toBe(0);
  const trail = p(`${name}.trail`);
  const r = await runCli(
    [
      "record",
      "-q",
      "--policy",
      p(`${name}.json`),
      ...urls.slice(1).flatMap((u) => ["--tsa-url", u]),
      "--tsa-ca",
      pkiPath("root-ca.pem"),
      "--tsa-timeout",
      timeout,
      ...extra,
      "-o",
      trail,
      "--",
      "printf",
      "kept",
    ],
    { env: { PATH: process.env["PATH"] } },
  );
  const v = await runCli(["verify", trail, "--json", "--tsa-ca", pkiPath("root-ca.pem")]);
  const verdict = (
    JSON.parse(v.stdout) as {
      timestamp: Record<string, unknown>;
      integrity: Record<string, unknown>;
    }[]
  )[0]!;
  return { ...r, verdict, trail };
}

const cases: [string, Behaviour | "tls", (url: string, seen: Hostile["last"]) => string][] = [
  [
    "answers garbage",
    (_b, res) => res.writeHead(200, REPLY).end("this is not a TimeStampResp"),
    (url) => `TSA ${url} answered with something that is not a TimeStampResp`,
  ],
  [
    "sends a huge body",
    (_b, res) => flood(res),
    (url) => `TSA ${url} sent a response over 262144 bytes`,
  ],
  [
    "sends its answer at one byte a second",
    (body, res) => trickle(res, token(body)),
    (url) => `TSA ${url} did not answer within 1000 ms`,
  ],
  [
    "stamps other data",
    (body, res) => res.writeHead(200, REPLY).end(token(body, { digest: sha256("other data") })),
    (url, seen) =>
      `token from TSA ${url}: token imprint ${Buffer.from(sha256("other data")).toString("hex")} does not match the data (${seen.digest})`,
  ],
  [
    "answers with a wrong nonce",
    (body, res) =>
      res.writeHead(200, REPLY).end(token(body, { nonce: decodeTimeStampReq(body).nonce! + 1n })),
    (url, seen) =>
      `token from TSA ${url}: token nonce ${(BigInt(`0x${seen.nonce}`) + 1n).toString(16)} does not match the request nonce ${seen.nonce}`,
  ],
  [
    "rejects the request",
    (_b, res) =>
      res.writeHead(200, REPLY).end(
        encodeTimeStampResp({
          status: 2,
          statusString: "out of service",
          failInfo: "systemFailure",
        }),
      ),
    (url) => `TSA ${url} refused the request: rejection (systemFailure: out of service)`,
  ],
  [
    "redirects to a good TSA",
    (_b, res) => res.writeHead(307, { location: good.url }).end(),
    (url) => `TSA ${url} answered HTTP 307`,
  ],
  [
    "shows a TLS certificate for another name",
    "tls",
    (url) =>
      `TSA ${url} is unreachable: Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list: `,
  ],
];

describe("a hostile remote TSA", () => {
  for (const [what, behave, reason] of cases) {
    it(`that ${what}: refused with a warning, the checkpoint unstamped, the next URL tried`, async () => {
      let tls: { key: Buffer; cert: Buffer } | undefined;
      let tlsArgs: string[] = [];
      if (behave === "tls") {
        const key = p("other-name.key");
        const cert = p("other-name.pem");
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
            cert,
            "-days",
            "2",
            "-subj",
            "/CN=tsa.other.example",
            "-addext",
            "subjectAltName=DNS:tsa.other.example",
          ],
          { stdio: "pipe" },
        );
        tls = { key: await readFile(key), cert: await readFile(cert) };
        // Its certificate is trusted: the name alone is wrong.
        tlsArgs = ["--tsa-tls-ca", cert];
      }
      const server = await hostile(
        behave === "tls" ? (body, res) => res.writeHead(200, REPLY).end(token(body)) : behave,
        tls,
      );
      try {
        const name = what.replace(/\W+/g, "-");
        // Alone (with a fallback that is down): the checkpoint stays unstamped, both reasons said.
        const alone = await record(`${name}-a`, [server.url, DOWN], tlsArgs);
        expect(alone.code, alone.stderr).toBe(0);
        expect(alone.stdout).toBe("kept");
        expect(alone.stderr).toBe(
          `trailseal: warning: checkpoint 1 is unstamped: ${reason(server.url, server.last)}; then ${DOWN_REASON}; nothing is lost, and stamping is tried again at the next checkpoint\n`,
        );
        expect(alone.verdict.integrity).toMatchObject({ state: "complete", checkpoints: 1 });
        expect(alone.verdict.timestamp).toMatchObject({
          state: "not-timestamped",
          stamped: 0,
          unstamped: [
            { index: 1, reason: `${reason(server.url, server.last)}; then ${DOWN_REASON}` },
          ],
        });
        // With a good TSA next, that one stamps the checkpoint.
        const before = server.connections;
        // A longer deadline here, so that the good TSA answers in time on a loaded machine.
        const rescued = await record(`${name}-b`, [server.url, good.url], tlsArgs, "3");
        expect(rescued.code, rescued.stderr).toBe(0);
        expect(rescued.stderr).toBe("");
        expect(server.connections).toBeGreaterThan(before); // it was asked first
        expect(rescued.verdict.timestamp).toMatchObject({
          state: "valid",
          stamped: 1,
          unstamped: [],
        });
        if (what.includes("byte a second") || what.includes("huge")) {
          // Cut off at --tsa-timeout or at the size limit, never read to the end: the client
          // walked away from every exchange. A slow TSA is an outage, asked once more (two
          // exchanges per recording); an oversized answer is a bad one, not asked again (one).
          expect(server.abandoned).toBe(server.connections);
          expect(server.connections).toBe(what.includes("huge") ? 2 : 4);
        }
      } finally {
        await server.close();
      }
    }, 60_000);
  }
});
