/**
 * An RFC 3161 time-stamp server over HTTP (RFC 3161 §3.4): POST application/timestamp-query,
 * answer application/timestamp-reply. Bad requests get a rejection with the fitting failInfo;
 * oversized bodies and slow clients are cut off; one log line per request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { TrailsealError } from "../errors.js";
import {
  decodeTimeStampReq,
  encodeTimeStampResp,
  HASHES,
  OID,
  type FailInfo,
} from "../pkix/tsp.js";
import { isExternalSigner, offThreadSigner } from "../pkix/algorithms.js";
import { checkTsaIdentity, issueToken, type TsaIdentity } from "./token.js";

export interface TsaServerOptions {
  tsa: TsaIdentity;
  /** The policy tokens are issued under; a request asking for another is refused. */
  policyOid: string;
  host?: string;
  /** 0 picks a free port. Default 3161. */
  port?: number;
  clock: () => Date;
  /** Unique serials (see `serialSource`). */
  serial: () => bigint;
  accuracyMillis?: number;
  /** Largest request body accepted (default 16 KiB; a request is about 100 bytes). */
  maxBodyBytes?: number;
  /** Time a client has to send its whole request (default 10 s). */
  requestTimeoutMs?: number;
  /** Connections served at once; more are refused by the kernel's backlog (default 256). */
  maxConnections?: number;
  /** Receives one line per request (no newline). */
  log?: (line: string) => void;
}

export interface TsaServer {
  /** `http://host:port/` */
  readonly url: string;
  /** Stops accepting, drops idle connections, resolves when closed. */
  close(): Promise<void>;
}

/** How long the rest of an oversized request is read and dropped before its socket is cut. */
const DRAIN_MS = 1000;

/** Imprint algorithms we stamp; SHA-1 and anything unknown get badAlg. */
const ACCEPTED_HASHES: ReadonlySet<string> = new Set([OID.sha256, OID.sha384, OID.sha512]);

class Rejection {
  constructor(
    readonly failInfo: FailInfo,
    readonly text: string,
  ) {}
}

/**
 * Starts a TSA server and resolves once it listens.
 *
 * @example
 *   const server = await startTsaServer({ tsa, policyOid, port: 0, clock: () => new Date(), serial: serialSource(randomBytes) });
 *   // ... POST to server.url ...
 *   await server.close();
 */
export async function startTsaServer(options: TsaServerOptions): Promise<TsaServer> {
  checkTsaIdentity(options.tsa, options.clock());
  // A key in memory signs on libuv's thread pool: every core signs while this thread serves.
  const key = options.tsa.key;
  const pooled = isExternalSigner(key) ? null : offThreadSigner(key);
  const serving = pooled === null ? options : { ...options, tsa: { ...options.tsa, key: pooled } };
  const maxBody = options.maxBodyBytes ?? 16 * 1024;
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const log = options.log ?? (() => undefined);

  const server = createServer(
    {
      requestTimeout: timeoutMs,
      headersTimeout: Math.min(timeoutMs, 60_000),
      // Node checks the two timeouts above only this often (default 30 s).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(timeoutMs / 4))),
      keepAliveTimeout: 5000,
    },
    (req, res) => {
      const started = Date.now();
      const peer = `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? "?"}`;
      let logged = false;
      const done = (status: number, what: string): void => {
        if (logged) return; // one line per request, even when a cut-off request then fails to read
        logged = true;
        log(
          `${new Date(started).toISOString()} ${peer} ${req.method ?? "?"} ${status} ${what} ${Date.now() - started}ms`,
        );
      };
      // Held here: once a response finishes, `req.socket` is detached and reads null.
      const socket = req.socket;
      // A slow body after the headers: cut the socket when the deadline passes.
      const deadline = setTimeout(() => {
        done(408, "request body too slow");
        socket.destroy();
      }, timeoutMs);
      handle(req, res, serving, maxBody, done).finally(() => clearTimeout(deadline));
    },
  );

  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) =>
      reject(
        new TrailsealError(
          "IO",
          `cannot listen on ${options.host ?? "127.0.0.1"}:${options.port ?? 3161}: ${(e as Error).message}`,
          { cause: e },
        ),
      ),
    );
    // Bounded: a flood of idle connections cannot exhaust file descriptors or memory.
    server.maxConnections = options.maxConnections ?? 256;
    server.listen(options.port ?? 3161, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: TsaServerOptions,
  maxBody: number,
  done: (status: number, what: string) => void,
): Promise<void> {
  const plain = (status: number, text: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, {
      "content-type": "text/plain; charset=utf-8",
      connection: "close",
      ...headers,
    });
    res.end(`${text}\n`);
    done(status, text);
  };
  if (req.method !== "POST") return plain(405, "only POST is supported", { allow: "POST" });
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/timestamp-query") {
    req.resume();
    return plain(415, `content type must be application/timestamp-query, not ${type || "none"}`);
  }
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > maxBody) return tooLarge(req, res, maxBody, done);

  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).byteLength;
      if (size > maxBody) return tooLarge(req, res, maxBody, done);
      chunks.push(chunk as Buffer);
    }
  } catch {
    done(400, "connection failed while reading the request");
    return;
  }
  const body = new Uint8Array(Buffer.concat(chunks));

  let reply: Uint8Array;
  let what: string;
  try {
    const token = await grant(body, options);
    reply = encodeTimeStampResp({ status: 0, token: token.token });
    what = `granted serial=${token.serial.toString(16)}`;
  } catch (e) {
    if (e instanceof Rejection) {
      reply = encodeTimeStampResp({ status: 2, statusString: e.text, failInfo: e.failInfo });
      what = `rejection ${e.failInfo}: ${e.text}`;
    } else {
      reply = encodeTimeStampResp({
        status: 2,
        statusString: "internal error",
        failInfo: "systemFailure",
      });
      what = `rejection systemFailure: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  res.writeHead(200, {
    "content-type": "application/timestamp-reply",
    "content-length": String(reply.byteLength),
  });
  res.end(reply);
  done(200, what);
}

function tooLarge(
  req: IncomingMessage,
  res: ServerResponse,
  maxBody: number,
  done: (s: number, w: string) => void,
): void {
  // The socket is taken now: by the time the answer is flushed it is detached from `req`.
  const socket = req.socket;
  res.writeHead(413, { "content-type": "text/plain; charset=utf-8", connection: "close" });
  res.end(`request body exceeds ${maxBody} bytes\n`, () => {
    // Closing with the rest of the body unread would send a TCP reset, and the client would
    // lose the 413 with it: end our side, drop what still comes, and cut off after a moment.
    socket.end();
    socket.on("data", () => undefined).resume();
    setTimeout(() => socket.destroy(), DRAIN_MS).unref();
  });
  done(413, `request body exceeds ${maxBody} bytes`);
}

/**
 * Checks one TimeStampReq and issues its token, or throws a Rejection (RFC 3161 §2.4.2). A key
 * on a token signs within the call (the binding is synchronous), so its one session does one
 * operation at a time.
 */
async function grant(
  body: Uint8Array,
  options: TsaServerOptions,
): Promise<{ token: Uint8Array; serial: bigint }> {
  let request: ReturnType<typeof decodeTimeStampReq>;
  try {
    request = decodeTimeStampReq(body);
  } catch {
    throw new Rejection("badDataFormat", "the request is not a DER TimeStampReq");
  }
  if (request.version !== 1)
    throw new Rejection("badRequest", `request version ${request.version} is not 1`);
  if (!ACCEPTED_HASHES.has(request.hashOid)) {
    throw new Rejection(
      "badAlg",
      `hash algorithm ${request.hashOid} is not accepted (SHA-256, SHA-384, SHA-512)`,
    );
  }
  if (request.hashParamsOdd) {
    // The algorithm identifier is copied into the token, where a verifier would refuse it.
    throw new Rejection("badAlg", "the hash algorithm carries parameters (RFC 5754: none)");
  }
  if (request.digest.byteLength !== HASHES[request.hashOid]?.length) {
    throw new Rejection(
      "badDataFormat",
      `imprint of ${request.digest.byteLength} bytes does not fit its hash algorithm`,
    );
  }
  if (request.policy !== null && request.policy !== options.policyOid) {
    throw new Rejection(
      "unacceptedPolicy",
      `policy ${request.policy} is not offered (only ${options.policyOid})`,
    );
  }
  if (request.hasExtensions)
    throw new Rejection("unacceptedExtension", "request extensions are not supported");
  const serial = options.serial();
  const token = await issueToken(options.tsa, {
    hashAlgorithmDer: request.hashAlgorithmDer,
    digest: request.digest,
    nonce: request.nonce,
    policyOid: options.policyOid,
    serial,
    genTime: options.clock(),
    includeCertificates: request.certReq,
    ...(options.accuracyMillis === undefined ? {} : { accuracyMillis: options.accuracyMillis }),
  });
  return { token, serial };
}
