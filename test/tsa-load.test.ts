/**
 * `trailseal tsa serve` (the built CLI, a process of its own) under load and abuse on 127.0.0.1:
 * 10,000 valid requests from 16 concurrent clients across a restart, then oversized bodies, slow
 * clients, malformed DER, wrong content types and a burst of 500 connections; it must answer
 * every valid request with its own token, never repeat a serial, stay within a bounded peak RSS
 * and still answer correctly afterwards. Nothing is timed: slow clients are cut off by the
 * server's --request-timeout (1 s here), and the test waits for that to happen.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { readFile } from "node:fs/promises";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import type { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { decodeSignedData } from "../src/pkix/signed.js";
import { OID, decodeTstInfo } from "../src/pkix/tsp.js";
import { parseResponse } from "../src/timestamp/client.js";
import { makeRequest } from "../src/timestamp/request.js";
import { LOCAL_POLICY_OID } from "../src/timestamp/token.js";
import { verifyToken } from "../src/timestamp/verify.js";
import { BIN, waitUntil } from "./helpers/live-record.js";
import { ROOT_CA, pkiPath, sha256 } from "./helpers/tsa.js";

interface Served {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly url: string;
  readonly port: number;
  /** Log lines so far (one per request). */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

async function serve(): Promise<Served> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      "tsa",
      "serve",
      "--cert",
      pkiPath("tsa-ec.pem"),
      "--key",
      pkiPath("tsa-ec.key"),
      "--port",
      "0",
      "--request-timeout",
      "1",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env["PATH"] } },
  );
  const lines: string[] = [];
  let partial = "";
  child.stderr.on("data", (c: Buffer) => {
    const parts = (partial + c.toString()).split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
  });
  const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
  const url = await waitUntil("the TSA to listen", () =>
    lines.map((l) => /^trailseal: notice: TSA listening on (\S+) /.exec(l)?.[1]).find(Boolean),
  );
  return { child, url, port: Number(new URL(url).port), lines, exited };
}

async function stop(served: Served): Promise<void> {
  served.child.kill("SIGTERM");
  expect(await served.exited).toBe(0);
  expect(served.lines.at(-1)).toBe("trailseal: notice: TSA stopped (SIGTERM)");
}

/** Peak and current resident memory of a process, in MiB. */
async function memory(pid: number): Promise<{ peak: number; now: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)![1]);
  return { peak: kib("VmHWM") / 1024, now: kib("VmRSS") / 1024 };
}

interface Answer {
  status: number;
  type: string;
  body: Uint8Array;
}

function post(
  url: string,
  body: Uint8Array | string,
  options: { agent?: Agent; type?: string; method?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? "POST",
        agent: options.agent ?? false,
        headers: {
          "content-type": options.type ?? "application/timestamp-query",
          "content-length": String(Buffer.byteLength(body)),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers["content-type"] ?? "",
            body: new Uint8Array(Buffer.concat(chunks)),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The token's serial, after checking that it answers this very request. */
function serialOf(answer: Answer, imprint: Uint8Array, nonce: bigint): bigint {
  expect(answer.status).toBe(200);
  expect(answer.type).toBe("application/timestamp-reply");
  const parsed = parseResponse(answer.body);
  expect(parsed.status).toBe("granted");
  // Decoded, not verified: 10,000 full verifications would be the test's cost, and the token's
  // signature is verified in full once at the end (verifyToken).
  const sd = decodeSignedData(parsed.token!, { code: "TIMESTAMP_INVALID", mode: "ber" });
  expect(sd.eContentType).toBe(OID.tstInfo);
  const info = decodeTstInfo(sd.eContent!);
  expect(info.nonce).toBe(nonce);
  expect(Buffer.from(info.digest).equals(Buffer.from(imprint))).toBe(true);
  expect(info.policy).toBe(LOCAL_POLICY_OID);
  return info.serial;
}

/** `count` valid requests from 16 clients at once, nonces from `first`; returns the serials. */
async function load(url: string, first: number, count: number): Promise<bigint[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const serials: bigint[] = [];
  let next = first;
  const client = async (): Promise<void> => {
    while (next < first + count) {
      const n = next++;
      const imprint = sha256(`request ${n}`);
      const nonce = BigInt(n) + 1n;
      const answer = await post(url, makeRequest(imprint, { nonce, certReq: false }), { agent });
      serials.push(serialOf(answer, imprint, nonce));
    }
  };
  try {
    await Promise.all(Array.from({ length: 16 }, client));
  } finally {
    agent.destroy();
  }
  return serials;
}

/** A raw connection that sends `head` then `trickle` one byte a second; resolves on close. */
function slowClient(port: number, head: string, trickle: string): Promise<string> {
  return new Promise((resolve) => {
    let data = "";
    let timer: NodeJS.Timeout | undefined;
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(head);
      let i = 0;
      timer = setInterval(() => {
        if (i < trickle.length && !socket.destroyed) socket.write(trickle[i++]!);
      }, 1000);
    });
    socket.on("data", (d) => (data += d.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearInterval(timer);
      resolve(data);
    });
  });
}

/** One connection of the burst: a whole valid request; resolves with the raw answer ("" if dropped). */
function burstClient(port: number, query: Uint8Array): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, "127.0.0.1", () => {
      socket.write(
        `POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/timestamp-query\r\ncontent-length: ${query.byteLength}\r\nconnection: close\r\n\r\n`,
      );
      socket.write(query);
    });
    socket.on("data", (d: Buffer) => chunks.push(d));
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(Buffer.concat(chunks)));
  });
}

describe("tsa serve under load and abuse", () => {
  it("answers 10,000 requests from 16 clients across a restart, survives abuse, stays bounded", async () => {
    const started = Date.now();
    let served = await serve();
    try {
      const first = await load(served.url, 0, 5000);
      await stop(served);
      served = await serve();
      const second = await load(served.url, 5000, 5000);
      const loadSeconds = (Date.now() - started) / 1000;
      const serials = [...first, ...second];
      expect(serials).toHaveLength(10_000);
      expect(new Set(serials).size).toBe(10_000);
      const afterLoad = await memory(served.child.pid!);

      // Oversized bodies, declared or chunked.
      const big = await post(served.url, new Uint8Array(100_000));
      expect([big.status, Buffer.from(big.body).toString()]).toEqual([
        413,
        "request body exceeds 16384 bytes\n",
      ]);
      const chunked = await new Promise<string>((resolve) => {
        let data = "";
        const socket = connect(served.port, "127.0.0.1", () => {
          socket.write(
            "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/timestamp-query\r\ntransfer-encoding: chunked\r\n\r\n",
          );
          for (let i = 0; i < 8; i++) socket.write(`1000\r\n${"0".repeat(0x1000)}\r\n`);
        });
        socket.on("data", (d) => (data += d.toString()));
        socket.on("error", (e: NodeJS.ErrnoException) => (data += `<${e.code}>`));
        socket.on("close", () => resolve(data));
      });
      // Under load the answer can be lost when the client is still sending: a reset, or EPIPE
      // when a write meets the socket the server already closed; either way the server cut it
      // off, and says so in its log.
      expect(chunked).toMatch(/^(HTTP\/1\.1 413 |<ECONNRESET>$|<EPIPE>$)/);
      // The log line reaches us through the server's stderr, which may be read after the socket
      // closed: wait for it, then require exactly the two.
      const refused = () =>
        served.lines.filter((l) => / POST 413 request body exceeds 16384 bytes /.test(l));
      await waitUntil("both 413s in the server's log", () =>
        refused().length >= 2 ? true : undefined,
      );
      expect(refused()).toHaveLength(2);

      // Malformed DER and wrong content types.
      for (const garbage of [
        new Uint8Array(0),
        Buffer.from("30030201", "hex"),
        Buffer.from("not der"),
      ]) {
        const answer = await post(served.url, garbage);
        expect(answer.status).toBe(200);
        expect(parseResponse(answer.body)).toEqual({
          status: "rejection",
          failInfo: ["badDataFormat"],
          statusText: "the request is not a DER TimeStampReq",
        });
      }
      const query = makeRequest(sha256("abuse"), { nonce: 1n, certReq: true });
      for (const type of [
        "text/plain",
        "application/timestamp-reply",
        "application/octet-stream",
      ]) {
        const answer = await post(served.url, query, { type });
        expect([answer.status, Buffer.from(answer.body).toString()]).toEqual([
          415,
          `content type must be application/timestamp-query, not ${type}\n`,
        ]);
      }
      expect((await post(served.url, "", { method: "GET" })).status).toBe(405);

      // Slow clients, a byte a second: 10 in their headers, 10 in their body. All are cut off.
      const head = "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/timestamp-query\r\n";
      const slow = await Promise.all([
        ...Array.from({ length: 10 }, () => slowClient(served.port, "POST / HTTP/1.1\r\n", head)),
        ...Array.from({ length: 10 }, () =>
          slowClient(served.port, `${head}content-length: 100\r\n\r\n`, "x".repeat(100)),
        ),
      ]);
      for (const answer of slow.slice(0, 10)) expect(answer).toMatch(/^(HTTP\/1\.1 408 |$)/);
      for (const answer of slow.slice(10)) expect(answer).toBe("");
      expect(served.lines.filter((l) => / POST 408 request body too slow /.test(l))).toHaveLength(
        10,
      );

      // A burst of 500 connections at once: each is answered with its own token or turned away
      // (256 are served at a time); none hangs, none gets another's token.
      const burst = await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          burstClient(
            served.port,
            makeRequest(sha256(`burst ${i}`), { nonce: BigInt(20_000 + i) }),
          ),
        ),
      );
      let answered = 0;
      let timedOut = 0;
      for (const [i, raw] of burst.entries()) {
        if (raw.byteLength === 0) continue; // turned away at once
        const split = raw.indexOf("\r\n\r\n");
        const head = raw.subarray(0, split).toString();
        // Queued behind the others for longer than --request-timeout: told so, not left hanging.
        if (head.startsWith("HTTP/1.1 408 Request Timeout\r\n")) {
          timedOut++;
          continue;
        }
        answered++;
        expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
        const answer = {
          status: 200,
          type: "application/timestamp-reply",
          body: new Uint8Array(raw.subarray(split + 4)),
        };
        serials.push(serialOf(answer, sha256(`burst ${i}`), BigInt(20_000 + i)));
      }
      expect(answered).toBeGreaterThan(0);
      expect(new Set(serials).size).toBe(serials.length);

      // Still answering correctly, with a token that verifies in full.
      const imprint = sha256("after the abuse");
      const answer = await post(served.url, makeRequest(imprint, { nonce: 7n, certReq: true }));
      const facts = await verifyToken(parseResponse(answer.body).token!, {
        imprint,
        nonce: 7n,
        anchors: [ROOT_CA()],
      });
      expect(facts.policy).toBe(LOCAL_POLICY_OID);
      const end = await memory(served.child.pid!);
      // Peak RSS stays bounded: the abuse added little to what the load needed.
      expect(end.peak).toBeLessThan(300);
      expect(end.peak - afterLoad.peak).toBeLessThan(64);
      console.log(
        `tsa serve: peak RSS ${afterLoad.peak.toFixed(0)} MiB after 10,000 requests, ${end.peak.toFixed(0)} MiB after the abuse (burst of 500: ${answered} served, ${timedOut} timed out in the queue, ${500 - answered - timedOut} turned away); load ${loadSeconds.toFixed(1)} s`,
      );
      await stop(served);
    } finally {
      served.child.kill("SIGKILL");
    }
  }, 180_000);
});
