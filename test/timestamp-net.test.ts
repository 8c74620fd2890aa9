/**
 * The TSA server and the remote client, over loopback HTTP, cross-checked with openssl both
 * ways: `openssl ts -query` -> our server -> `openssl ts -verify`, and our client -> a small HTTP
 * wrapper around `openssl ts -reply` -> our verifier.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes, X509Certificate } from "node:crypto";
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeTimeStampResp, hashAlgorithm, OID } from "../src/pkix/tsp.js";
import { parseResponse, remoteStamper } from "../src/timestamp/client.js";
import { startTsaServer, type TsaServer } from "../src/timestamp/server.js";
import { issueToken, serialSource } from "../src/timestamp/token.js";
import { verifyToken } from "../src/timestamp/verify.js";
import { pkiPath, ROOT_CA, sha256, tsaFixture, untrustedCopy, opensslIn } from "./helpers/tsa.js";
import { startHttpsFront } from "./helpers/https-front.js";

const POLICY = "1.3.6.1.4.1.32473.3161.1";
const IMPRINT = sha256("checkpoint 3");
const NONCE = 0x5eed5eed5eedn;
const dir = mkdtempSync(join(tmpdir(), "trailseal-tsnet-"));
const open: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(open.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

const openssl = opensslIn(dir);

/** openssl runs in `dir`; see untrustedCopy for why -untrusted gets a copy there. */
const untrusted = (path: string): string => untrustedCopy(dir, path);

/** POSTs bytes and returns status, content type and body. */
function post(
  url: string,
  body: Uint8Array,
  type = "application/timestamp-query",
  method = "POST",
) {
  return new Promise<{ status: number; type: string; body: Uint8Array }>((resolve, reject) => {
    const req = request(url, { method, headers: { "content-type": type } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers["content-type"]),
          body: new Uint8Array(Buffer.concat(chunks)),
        }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A throwaway HTTP server on 127.0.0.1:0 running `handler`. */
async function serve(
  handler: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void | Promise<void>,
) {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => void handler(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const handle = {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  open.push(handle);
  return handle;
}

const reply = (res: ServerResponse, body: Uint8Array, type = "application/timestamp-reply") => {
  res.writeHead(200, { "content-type": type });
  res.end(body);
};

/** `openssl ts -reply` behind HTTP, one process per request (the reference TSA). */
async function opensslTsa() {
  writeFileSync(
    join(dir, "tsa.cnf"),
    [
      "[ tsa ]",
      "default_tsa = tsa_config",
      "[ tsa_config ]",
      `serial = ${join(dir, "tsaserial")}`,
      `signer_cert = ${pkiPath("tsa.pem")}`,
      `signer_key = ${pkiPath("tsa.key")}`,
      "signer_digest = sha256",
      "default_policy = 1.2.3.4.1",
      "other_policies = 1.2.3.4.5",
      "digests = sha256, sha384, sha512",
      "accuracy = secs:1, millisecs:500",
      "ordering = no",
      "tsa_name = yes",
      "ess_cert_id_chain = no",
      "ess_cert_id_alg = sha256",
      "",
    ].join("\n"),
  );
  writeFileSync(join(dir, "tsaserial"), "01\n");
  let n = 0;
  return serve((_req, body, res) => {
    const q = join(dir, `oq${++n}.tsq`);
    const r = join(dir, `or${n}.tsr`);
    writeFileSync(q, body);
    openssl(["ts", "-reply", "-config", join(dir, "tsa.cnf"), "-queryfile", q, "-out", r]);
    reply(res, readFileSync(r));
  });
}

describe("tsa server", () => {
  const logs: string[] = [];
  const servers: Record<string, TsaServer> = {};
  let serial = 0n;
  beforeAll(async () => {
    for (const name of ["tsa", "tsa-ec"]) {
      servers[name] = await startTsaServer({
        tsa: tsaFixture(name),
        policyOid: POLICY,
        port: 0,
        clock: () => new Date(),
        serial: () => ++serial,
        accuracyMillis: 500,
        maxBodyBytes: 1024,
        requestTimeoutMs: 400,
        log: (line) => logs.push(line),
      });
      open.push(servers[name]);
    }
  });

  for (const name of ["tsa", "tsa-ec"]) {
    it(`${name}: openssl ts -query -> our server -> openssl ts -verify -queryfile says OK`, async () => {
      writeFileSync(join(dir, "data.bin"), "session bytes");
      openssl(["ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", `${name}.tsq`]);
      const res = await post(servers[name]!.url, readFileSync(join(dir, `${name}.tsq`)));
      expect(res.status).toBe(200);
      expect(res.type).toBe("application/timestamp-reply");
      writeFileSync(join(dir, `${name}.tsr`), res.body);
      const out = openssl([
        "ts",
        "-verify",
        "-queryfile",
        `${name}.tsq`,
        "-in",
        `${name}.tsr`,
        "-CAfile",
        pkiPath("root-ca.pem"),
        "-untrusted",
        untrusted(pkiPath(name === "tsa" ? "tsa.pem" : "tsa-ec.pem")),
      ]);
      expect(out.trim()).toBe("Verification: OK");
      expect(parseResponse(res.body).status).toBe("granted");
    });
  }

  it("leaves the certificates out when certReq is not set; openssl verifies with -untrusted", async () => {
    writeFileSync(join(dir, "data.bin"), "session bytes");
    openssl(["ts", "-query", "-data", "data.bin", "-sha256", "-out", "nocert.tsq"]);
    const res = await post(servers.tsa!.url, readFileSync(join(dir, "nocert.tsq")));
    writeFileSync(join(dir, "nocert.tsr"), res.body);
    const text = openssl(["ts", "-reply", "-in", "nocert.tsr", "-text"]);
    expect(text).toContain("Status: Granted.");
    const out = openssl([
      "ts",
      "-verify",
      "-queryfile",
      "nocert.tsq",
      "-in",
      "nocert.tsr",
      "-CAfile",
      pkiPath("root-ca.pem"),
      "-untrusted",
      untrusted(pkiPath("tsa.pem")),
    ]);
    expect(out.trim()).toBe("Verification: OK");
  });

  const rejections: [string, () => Uint8Array, string, string][] = [
    [
      "SHA-1 imprint",
      () => (
        openssl(["ts", "-query", "-data", "data.bin", "-sha1", "-out", "sha1.tsq"]),
        readFileSync(join(dir, "sha1.tsq"))
      ),
      "badAlg",
      "unrecognized or unsupported algorithm identifier",
    ],
    [
      "MD5 imprint",
      () => (
        openssl(["ts", "-query", "-data", "data.bin", "-md5", "-out", "md5.tsq"]),
        readFileSync(join(dir, "md5.tsq"))
      ),
      "badAlg",
      "unrecognized or unsupported algorithm identifier",
    ],
    [
      "an unaccepted policy",
      () => (
        openssl([
          "ts",
          "-query",
          "-data",
          "data.bin",
          "-sha256",
          "-tspolicy",
          "1.2.3.99",
          "-out",
          "pol.tsq",
        ]),
        readFileSync(join(dir, "pol.tsq"))
      ),
      "unacceptedPolicy",
      "the requested TSA policy is not supported by the TSA",
    ],
    [
      "a garbage body",
      () => new Uint8Array([1, 2, 3, 4]),
      "badDataFormat",
      "the data submitted has the wrong format",
    ],
    [
      "a wrong-length imprint",
      () =>
        Buffer.from(
          "302f0201013025300d06096086480165030402010500041400000000000000000000000000000000000000000101ff",
          "hex",
        ),
      "badDataFormat",
      "the data submitted has the wrong format",
    ],
    [
      "version 2",
      () =>
        Buffer.from("30360201023031300d060960864801650304020105000420" + "00".repeat(32), "hex"),
      "badRequest",
      "transaction not permitted or supported",
    ],
    [
      "a SHA-256 imprint algorithm with parameters (openssl ts -reply: badAlg too)",
      () =>
        Buffer.from(
          "30370201013032300e0609608648016503040201020105" + "0420" + "00".repeat(32),
          "hex",
        ),
      "badAlg",
      "unrecognized or unsupported algorithm identifier",
    ],
  ];
  for (const [what, body, failInfo, opensslText] of rejections) {
    it(`answers ${what} with a rejection, failInfo ${failInfo} (openssl agrees)`, async () => {
      writeFileSync(join(dir, "data.bin"), "session bytes");
      const res = await post(servers.tsa!.url, body());
      expect(res.status).toBe(200);
      const parsed = parseResponse(res.body);
      expect(parsed.status).toBe("rejection");
      expect(parsed.failInfo).toEqual([failInfo]);
      expect(parsed.token).toBeUndefined();
      writeFileSync(join(dir, "rej.tsr"), res.body);
      const text = openssl(["ts", "-reply", "-in", "rej.tsr", "-text"]);
      expect(text).toContain("Status: Rejected.");
      expect(text).toContain(opensslText);
    });
  }

  it("answers HTTP 415 to a wrong content type and 405 to GET", async () => {
    expect(
      (await post(servers.tsa!.url, new Uint8Array(4), "application/octet-stream")).status,
    ).toBe(415);
    expect(
      (await post(servers.tsa!.url, new Uint8Array(0), "application/timestamp-query", "GET"))
        .status,
    ).toBe(405);
  });

  it("cuts off a body over the size limit with 413", async () => {
    const res = await post(servers.tsa!.url, new Uint8Array(5000));
    expect(res.status).toBe(413);
  });

  it("cuts off a chunked body over the size limit with 413 and keeps serving", async () => {
    // No content-length: the limit trips while reading, after which the socket is detached.
    const port = Number(new URL(servers.tsa!.url).port);
    const answer = await new Promise<string>((resolve) => {
      let data = "";
      const socket = connect(port, "127.0.0.1", () => {
        socket.write(
          "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/timestamp-query\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        socket.write(`1400\r\n${"0".repeat(0x1400)}\r\n0\r\n\r\n`);
      });
      socket.on("data", (d) => (data += d.toString()));
      socket.on("error", () => undefined);
      socket.on("close", () => resolve(data));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(join(dir, "data.bin"), "session bytes");
    openssl(["ts", "-query", "-data", "data.bin", "-sha256", "-out", "after413.tsq"]);
    const res = await post(servers.tsa!.url, readFileSync(join(dir, "after413.tsq")));
    expect(res.status).toBe(200);
    expect(parseResponse(res.body).status).toBe("granted");
  });

  it("cuts off a slow client", async () => {
    const port = Number(new URL(servers.tsa!.url).port);
    const closed = await new Promise<{ ms: number; data: string }>((resolve) => {
      const started = Date.now();
      let data = "";
      const socket = connect(port, "127.0.0.1", () => {
        socket.write(
          "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/timestamp-query\r\ncontent-length: 100\r\n\r\n0123",
        );
      });
      socket.on("data", (d) => (data += d.toString()));
      socket.on("error", () => undefined);
      socket.on("close", () => resolve({ ms: Date.now() - started, data }));
    });
    expect(closed.ms).toBeGreaterThanOrEqual(350);
    expect(closed.ms).toBeLessThan(5000);
    expect(logs.some((l) => / 408 request body too slow /.test(l))).toBe(true);
  });

  it("never repeats a serial and logs one line per request", async () => {
    const stamper = remoteStamper([servers["tsa-ec"]!.url], { anchors: [ROOT_CA()] });
    const before = logs.length;
    const facts = await Promise.all(
      [1n, 2n, 3n, 4n].map(async (nonce) =>
        verifyToken(await stamper.stamp(IMPRINT, nonce), {
          imprint: IMPRINT,
          nonce,
          policyOid: POLICY,
          anchors: [ROOT_CA()],
        }),
      ),
    );
    expect(new Set(facts.map((f) => f.serial)).size).toBe(4);
    expect(logs.length - before).toBe(4);
    expect(logs.at(-1)).toMatch(
      /^\d{4}-\d\d-\d\dT\S+ 127\.0\.0\.1:\d+ POST 200 granted serial=[0-9a-f]+ \d+ms$/,
    );
  });
});

describe("remote stamper", () => {
  it("gets tokens from openssl ts -reply that verifyToken accepts, with the asked policy", async () => {
    const tsa = await opensslTsa();
    const stamper = remoteStamper([tsa.url], { policyOid: "1.2.3.4.5", anchors: [ROOT_CA()] });
    expect(stamper.kind).toBe("remote");
    const token = await stamper.stamp(IMPRINT, NONCE);
    const facts = await verifyToken(token, {
      imprint: IMPRINT,
      nonce: NONCE,
      policyOid: "1.2.3.4.5",
      anchors: [ROOT_CA()],
    });
    expect(facts.policy).toBe("1.2.3.4.5");
    expect(facts.tsaName).toBe("C=XX, O=trailseal test, CN=trailseal test TSA");
    expect(facts.accuracy).toEqual({ seconds: 1, millis: 500, micros: 0 });
  });

  it("accepts openssl's default ESS signingCertificate (v1, SHA-1 certHash) binding", async () => {
    const tsa = await opensslTsa();
    writeFileSync(
      join(dir, "tsa.cnf"),
      readFileSync(join(dir, "tsa.cnf"), "utf8").replace("ess_cert_id_alg = sha256\n", ""),
    );
    const token = await remoteStamper([tsa.url], { anchors: [ROOT_CA()] }).stamp(IMPRINT, NONCE);
    const facts = await verifyToken(token, {
      imprint: IMPRINT,
      nonce: NONCE,
      anchors: [ROOT_CA()],
    });
    expect(facts.policy).toBe("1.2.3.4.1");
  });

  it("tries the next URL when the first is down", async () => {
    const down = await serve((_q, _b, res) => {
      res.writeHead(500);
      res.end();
    });
    const good = await startTsaServer({
      tsa: tsaFixture("tsa-ec"),
      policyOid: POLICY,
      port: 0,
      clock: () => new Date(),
      serial: () => 9n,
    });
    open.push(good);
    const token = await remoteStamper([down.url, good.url], { retries: 0 }).stamp(IMPRINT, NONCE);
    expect(
      (await verifyToken(token, { imprint: IMPRINT, nonce: NONCE, anchors: [ROOT_CA()] })).serial,
    ).toBe("9");
  });

  it("tsa server: refuses to start with a TSA certificate not valid now", async () => {
    await expect(
      startTsaServer({
        tsa: tsaFixture("tsa-not-yet-valid"),
        policyOid: POLICY,
        port: 0,
        clock: () => new Date(),
        serial: () => 1n,
      }),
    ).rejects.toMatchObject({ code: "USAGE", message: expect.stringMatching(/is not valid at/) });
  });

  it("reports a rejection with TSA_REJECTED and the failInfo", async () => {
    const ours = await startTsaServer({
      tsa: tsaFixture("tsa-ec"),
      policyOid: POLICY,
      port: 0,
      clock: () => new Date(),
      serial: () => 1n,
    });
    open.push(ours);
    await expect(
      remoteStamper([ours.url], { policyOid: "1.2.3.99" }).stamp(IMPRINT, NONCE),
    ).rejects.toMatchObject({
      code: "TSA_REJECTED",
      message: expect.stringContaining(
        "rejection (unacceptedPolicy: policy 1.2.3.99 is not offered",
      ),
    });
  });

  /** A TSA answering with a fixed, locally made token. */
  function fixedToken(over: Partial<Parameters<typeof issueToken>[1]> = {}, name = "tsa-ec") {
    return encodeTimeStampResp({
      status: 0,
      token: issueToken(tsaFixture(name), {
        hashAlgorithmDer: hashAlgorithm(OID.sha256),
        digest: IMPRINT,
        nonce: NONCE,
        policyOid: POLICY,
        serial: 5n,
        genTime: new Date(),
        ...over,
      }),
    });
  }

  const failures: [
    string,
    (req: IncomingMessage, body: Buffer, res: ServerResponse) => void,
    object,
    string,
    RegExp,
  ][] = [
    [
      "HTTP 500",
      (_q, _b, res) => {
        res.writeHead(500);
        res.end("boom");
      },
      {},
      "TSA_UNAVAILABLE",
      /answered HTTP 500/,
    ],
    [
      "a wrong content type",
      (_q, _b, res) => reply(res, fixedToken(), "text/html"),
      {},
      "TSA_UNAVAILABLE",
      /content type text\/html/,
    ],
    [
      "a garbage body",
      (_q, _b, res) => reply(res, new Uint8Array([0x30, 0x80, 1, 2])),
      {},
      "TIMESTAMP_INVALID",
      /not a TimeStampResp/,
    ],
    [
      "a response over the size limit",
      (_q, _b, res) => reply(res, fixedToken()),
      { maxResponseBytes: 200 },
      "TIMESTAMP_INVALID",
      /over 200 bytes/,
    ],
    [
      "a nonce mismatch",
      (_q, _b, res) => reply(res, fixedToken({ nonce: NONCE + 1n })),
      {},
      "TIMESTAMP_INVALID",
      /nonce .* does not match/,
    ],
    [
      "an imprint mismatch",
      (_q, _b, res) => reply(res, fixedToken({ digest: sha256("else") })),
      {},
      "TIMESTAMP_INVALID",
      /imprint .* does not match/,
    ],
    [
      "a policy mismatch",
      (_q, _b, res) => reply(res, fixedToken({ policyOid: "1.2.3.4.1" })),
      { policyOid: POLICY },
      "TIMESTAMP_INVALID",
      /policy 1\.2\.3\.4\.1 is not the requested/,
    ],
    [
      "a non-critical EKU",
      (_q, _b, res) => reply(res, fixedToken({}, "tsa-noncritical")),
      {},
      "TIMESTAMP_INVALID",
      /not critical/,
    ],
    [
      "a TSA outside the anchors",
      (_q, _b, res) => reply(res, fixedToken({}, "foreign-tsa")),
      { anchors: [ROOT_CA()] },
      "CHAIN_UNTRUSTED",
      /./,
    ],
    [
      "a timeout",
      () => undefined,
      { timeoutMs: 150 },
      "TSA_UNAVAILABLE",
      /did not answer within 150 ms/,
    ],
  ];
  for (const [what, handler, options, code, message] of failures) {
    it(`refuses ${what} with ${code}`, async () => {
      const tsa = await serve(handler);
      await expect(
        remoteStamper([tsa.url], { retries: 0, ...options }).stamp(IMPRINT, NONCE),
      ).rejects.toMatchObject({
        code,
        message: expect.stringMatching(message),
      });
    });
  }

  it("works over HTTPS with a private TLS CA (tlsCa), and refuses an untrusted TLS certificate", async () => {
    const inner = await startTsaServer({
      tsa: tsaFixture("tsa-ec"),
      policyOid: POLICY,
      port: 0,
      clock: () => new Date(),
      serial: () => 11n,
    });
    open.push(inner);
    const front = await startHttpsFront(dir, inner.url);
    open.push(front);
    const url = front.url;
    const tlsCa = [new Uint8Array(new X509Certificate(readFileSync(front.tlsCert)).raw)];
    const token = await remoteStamper([url], { tlsCa, anchors: [ROOT_CA()] }).stamp(IMPRINT, NONCE);
    expect(
      (await verifyToken(token, { imprint: IMPRINT, nonce: NONCE, anchors: [ROOT_CA()] })).serial,
    ).toBe("b");
    await expect(remoteStamper([url], { retries: 0 }).stamp(IMPRINT, NONCE)).rejects.toMatchObject({
      code: "TSA_UNAVAILABLE",
      message: expect.stringMatching(/unreachable: self.signed certificate/),
    });
  });

  it("never shows a URL's password or query in its errors (they go to stderr and into the trail)", async () => {
    const gone = await serve(() => undefined);
    await gone.close();
    const secret = gone.url.replace("http://", "http://audit:s3cret-pw@") + "tsr?apikey=k3y";
    const error = await remoteStamper([secret], { retries: 0 })
      .stamp(IMPRINT, NONCE)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "TSA_UNAVAILABLE",
      message: expect.stringContaining(`TSA ${gone.url.replace("http://", "http://***@")}tsr?***`),
    });
    expect(String((error as Error).message)).not.toMatch(/s3cret|k3y/);
    const rejected = await serve((_q, _b, res) => reply(res, new Uint8Array([0x30, 0x80, 1, 2])));
    const bad = rejected.url.replace("http://", "http://audit:s3cret-pw@");
    const invalid = await remoteStamper([bad], { retries: 0 })
      .stamp(IMPRINT, NONCE)
      .catch((e: unknown) => e);
    expect(invalid).toMatchObject({
      code: "TIMESTAMP_INVALID",
      message: `TSA ${rejected.url.replace("http://", "http://***@")} answered with something that is not a TimeStampResp`,
    });
    expect(String((invalid as Error).message)).not.toContain("s3cret");
    expect(() => remoteStamper(["ftp://u:s3cret-pw@x/"])).toThrow(
      expect.objectContaining({ code: "USAGE", message: expect.not.stringContaining("s3cret") }),
    );
  });

  it("skips a URL that timed out for a while (straight to the fallback), then asks it again", async () => {
    const silent = await serve(() => undefined);
    const ours = await startTsaServer({
      tsa: tsaFixture("tsa-ec"),
      policyOid: POLICY,
      port: 0,
      clock: () => new Date(),
      serial: serialSource((n) => new Uint8Array(randomBytes(n))),
    });
    open.push(ours);
    // A skipped URL costs nothing, an asked one its whole deadline: 600 ms keeps the two far apart
    // on a machine that stalls now and then.
    let clock = 1_000_000;
    const options = { timeoutMs: 600, retries: 0, pauseAfterTimeoutMs: 30_000, now: () => clock };
    const alone = remoteStamper([silent.url], options);
    let started = Date.now();
    await expect(alone.stamp(IMPRINT, NONCE)).rejects.toMatchObject({
      code: "TSA_UNAVAILABLE",
      message: expect.stringMatching(/did not answer within 600 ms/),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(590);
    started = Date.now();
    await expect(alone.stamp(IMPRINT, NONCE)).rejects.toMatchObject({
      code: "TSA_UNAVAILABLE",
      message: `TSA ${silent.url} timed out a moment ago; not asked again for 30 s`,
    });
    expect(Date.now() - started).toBeLessThan(400);
    clock += 30_001;
    started = Date.now();
    await expect(alone.stamp(IMPRINT, NONCE)).rejects.toMatchObject({
      message: expect.stringMatching(/did not answer within 600 ms/),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(590);

    const withFallback = remoteStamper([silent.url, ours.url], options);
    await withFallback.stamp(IMPRINT, NONCE); // the silent one times out, the fallback answers
    started = Date.now();
    const token = await withFallback.stamp(IMPRINT, NONCE);
    expect(Date.now() - started).toBeLessThan(400);
    expect(
      (await verifyToken(token, { imprint: IMPRINT, nonce: NONCE, anchors: [ROOT_CA()] })).policy,
    ).toBe(POLICY);
  });

  it("refuses an unreachable TSA with TSA_UNAVAILABLE after its retries", async () => {
    const gone = await serve(() => undefined);
    await gone.close();
    const started = Date.now();
    await expect(
      remoteStamper([gone.url], { retries: 2, backoffMs: 20 }).stamp(IMPRINT, NONCE),
    ).rejects.toMatchObject({
      code: "TSA_UNAVAILABLE",
      message: expect.stringMatching(/unreachable/),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(60); // back-off 20 + 40 ms
  });
});
