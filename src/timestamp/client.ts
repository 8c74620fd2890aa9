/**
 * A remote TSA over HTTP(S) (RFC 3161 §3.4). Responses are checked in full before a token is
 * kept: HTTP status, content type, size, PKIStatus, imprint, nonce, policy, signature, ESS
 * binding and the timeStamping EKU (and the chain when anchors are given).
 */
import type { IncomingMessage } from "node:http";
import { TrailsealError } from "../errors.js";
import { toPem } from "../pem.js";
import { decodeTimeStampResp, STATUS_NAMES } from "../pkix/tsp.js";
import { makeRequest } from "./request.js";
import type { Stamper } from "./token.js";
import { checkToken } from "./verify.js";

export interface RemoteStamperOptions {
  /** reqPolicy to send and to demand in the token; null/omitted = the TSA's default. */
  policyOid?: string | null;
  /** Deadline for one whole exchange (default 10 000 ms). */
  timeoutMs?: number;
  /** Further attempts per URL after an outage-type failure (default 1). */
  retries?: number;
  /** First back-off between attempts, doubled each time (default 250 ms). */
  backoffMs?: number;
  /** Largest response accepted (default 256 KiB). */
  maxResponseBytes?: number;
  /** Trust anchors (DER) the TSA chain must reach; omitted = chain not checked here. */
  anchors?: readonly Uint8Array[];
  /**
   * Certificates (DER) that may supply the TSA's certificate (a TSA that leaves it out despite
   * certReq) or complete its chain; never trusted by themselves.
   */
  certificates?: readonly Uint8Array[];
  /** CA certificates (DER) to trust for HTTPS instead of the system store (a private TSA). */
  tlsCa?: readonly Uint8Array[];
  /** How long a URL whose exchange timed out is not asked again (default 30 000 ms). */
  pauseAfterTimeoutMs?: number;
  /** Wall clock in ms for the pause (default Date.now). */
  now?: () => number;
}

/** Errors of exchanges that ran into the deadline (as opposed to refused or failed fast). */
const timeouts = new WeakSet<object>();

export type PkiStatus = (typeof STATUS_NAMES)[number] | `unknown(${number})`;

export interface ParsedResponse {
  status: PkiStatus;
  /** failInfo names (e.g. "badAlg"), when the TSA gave any. */
  failInfo?: string[];
  /** The TSA's statusString text, when it gave one. */
  statusText?: string;
  /** The TimeStampToken DER, when granted. */
  token?: Uint8Array;
}

/** Parses a TimeStampResp (RFC 3161 §2.4.2); throws TIMESTAMP_INVALID when it is not one. */
export function parseResponse(der: Uint8Array): ParsedResponse {
  const r = decodeTimeStampResp(der);
  return {
    status: STATUS_NAMES[r.status] ?? `unknown(${r.status})`,
    ...(r.failInfo.length > 0 ? { failInfo: r.failInfo } : {}),
    ...(r.statusStrings.length > 0 ? { statusText: r.statusStrings.join("; ") } : {}),
    ...(r.token === null ? {} : { token: r.token }),
  };
}

/**
 * A stamper over remote TSAs: `urls` are tried in order; each gets `retries` more attempts with
 * back-off when it is unreachable, slow or answers with an HTTP error. Throws TSA_UNAVAILABLE,
 * TSA_REJECTED (with the failInfo) or TIMESTAMP_INVALID — from the last URL tried.
 *
 * @example
 *   const stamper = remoteStamper(["https://tsa.example/tsr"], { policyOid: "1.2.3.4", anchors: [tsaRootDer] });
 *   const token = await stamper.stamp(imprint, nonce);
 */
export function remoteStamper(
  urls: readonly string[],
  options: RemoteStamperOptions = {},
): Stamper {
  if (urls.length === 0)
    throw new TrailsealError("USAGE", "a remote stamper needs at least one TSA URL");
  for (const u of urls) parseUrl(u);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retries = options.retries ?? 1;
  const backoffMs = options.backoffMs ?? 250;
  const maxBytes = options.maxResponseBytes ?? 256 * 1024;
  const policyOid = options.policyOid ?? null;
  const tlsCa = options.tlsCa?.map(toPem);
  const pauseMs = options.pauseAfterTimeoutMs ?? 30_000;
  const now = options.now ?? Date.now;
  // A URL that let an exchange time out is skipped for a while: otherwise every checkpoint of a
  // seal waits out the deadline and its retries again (20 s each by default), and a seal of a
  // long session behind an unreachable TSA takes hours. The skipped checkpoints stay unstamped;
  // a later token covers them through the chain.
  const pausedUntil = new Map<string, number>();
  return {
    kind: "remote",
    async stamp(imprint: Uint8Array, nonce: bigint): Promise<Uint8Array> {
      const query = makeRequest(imprint, { nonce, policyOid, certReq: true });
      let last: unknown;
      // Why each URL failed: a fallback that is down too must not hide what the first one did.
      const failures: unknown[] = [];
      for (const url of urls) {
        if (last !== undefined) failures.push(last);
        const until = pausedUntil.get(url) ?? 0;
        if (now() < until) {
          last = new TrailsealError(
            "TSA_UNAVAILABLE",
            `TSA ${shownUrl(url)} timed out a moment ago; not asked again for ${Math.ceil((until - now()) / 1000)} s`,
          );
          continue;
        }
        for (let attempt = 0; attempt <= retries; attempt++) {
          if (attempt > 0) await sleep(backoffMs * 2 ** (attempt - 1));
          try {
            const body = await post(url, query, timeoutMs, maxBytes, tlsCa);
            pausedUntil.delete(url);
            return await acceptResponse(
              shownUrl(url),
              body,
              imprint,
              nonce,
              policyOid,
              options.anchors ?? null,
              options.certificates ?? [],
            );
          } catch (e) {
            last = e;
            // Only an outage is worth retrying at the same TSA; a rejection or a bad token is not.
            if (!(e instanceof TrailsealError && e.code === "TSA_UNAVAILABLE")) break;
          }
        }
        if (typeof last === "object" && last !== null && timeouts.has(last)) {
          pausedUntil.set(url, now() + pauseMs);
        }
      }
      throw failures.length === 0 ? last : allFailed([...failures, last]);
    },
  };
}

/** One error for several URLs that all failed: the last one's code, every URL's reason. */
function allFailed(errors: readonly unknown[]): TrailsealError {
  const last = errors.at(-1);
  const code = last instanceof TrailsealError ? last.code : "TSA_UNAVAILABLE";
  const reasons = errors.map((e) => (e instanceof Error ? e.message : String(e)));
  const details = last instanceof TrailsealError ? last.details : {};
  return new TrailsealError(code, reasons.join("; then "), { cause: last, ...details });
}

async function acceptResponse(
  url: string,
  body: Uint8Array,
  imprint: Uint8Array,
  nonce: bigint,
  policyOid: string | null,
  anchors: readonly Uint8Array[] | null,
  certificates: readonly Uint8Array[],
): Promise<Uint8Array> {
  let response: ParsedResponse;
  try {
    response = parseResponse(body);
  } catch (e) {
    throw new TrailsealError(
      "TIMESTAMP_INVALID",
      `TSA ${url} answered with something that is not a TimeStampResp`,
      {
        cause: e,
      },
    );
  }
  if (response.status !== "granted" && response.status !== "grantedWithMods") {
    const why = [response.failInfo?.join(",") ?? "", response.statusText ?? ""]
      .filter((s) => s !== "")
      .join(": ");
    throw new TrailsealError(
      "TSA_REJECTED",
      `TSA ${url} refused the request: ${response.status}${why === "" ? "" : ` (${why})`}`,
    );
  }
  if (response.token === undefined) {
    throw new TrailsealError(
      "TIMESTAMP_INVALID",
      `TSA ${url} granted the request but sent no token`,
    );
  }
  try {
    await checkToken(response.token, { imprint, nonce, policyOid, anchors, certificates });
  } catch (e) {
    if (e instanceof TrailsealError) {
      // What the check found missing (a TSA trust anchor) stays, so the caller can say how to give it.
      throw e.amend({ message: `token from TSA ${url}: ${e.message}` });
    }
    throw e;
  }
  return response.token;
}

function parseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TrailsealError("USAGE", `TSA URL '${shownUrl(url)}' is not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TrailsealError("USAGE", `TSA URL '${shownUrl(url)}' must be http:// or https://`);
  }
  return parsed;
}

/**
 * The URL as messages show it: a password or query (an access token, say) would otherwise end up
 * on stderr and in the failure notes that the trail keeps in clear.
 */
export function shownUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL, but perhaps one with a typo after its credentials: hide what could be them.
    return url.replace(/^([^/?#]*\/\/)[^/?#]*@/, "$1***@").replace(/\?.*$/s, "?***");
  }
  if (parsed.username === "" && parsed.password === "" && parsed.search === "") return url;
  if (parsed.username !== "" || parsed.password !== "") {
    parsed.username = "***";
    parsed.password = "";
  }
  if (parsed.search !== "") parsed.search = "?***";
  return parsed.toString();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * node:http or node:https, loaded with the first request rather than with this module (with tls
 * and net): the policy reader imports it for shownUrl, and reading a policy sends nothing.
 */
const transport = (protocol: string): Promise<Pick<typeof import("node:http"), "request">> =>
  protocol === "https:" ? import("node:https") : import("node:http");

/** One POST; resolves with the body of a 200 application/timestamp-reply, else throws. */
async function post(
  url: string,
  query: Uint8Array,
  timeoutMs: number,
  maxBytes: number,
  tlsCa: string[] | undefined,
): Promise<Uint8Array> {
  const target = parseUrl(url);
  const shown = shownUrl(url);
  const { request: send } = await transport(target.protocol);
  return new Promise<Uint8Array>((resolve, reject) => {
    let settled = false;
    const fail = (e: TrailsealError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(e);
    };
    const done = (body: Uint8Array): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(body);
    };
    const timer = setTimeout(() => {
      const e = new TrailsealError(
        "TSA_UNAVAILABLE",
        `TSA ${shown} did not answer within ${timeoutMs} ms`,
      );
      timeouts.add(e);
      fail(e);
    }, timeoutMs);
    const req = send(
      target,
      {
        method: "POST",
        ...(tlsCa === undefined || target.protocol !== "https:" ? {} : { ca: tlsCa }),
        headers: {
          "content-type": "application/timestamp-query",
          "content-length": String(query.byteLength),
          connection: "close",
        },
      },
      (res) => readReply(res, shown, maxBytes, fail, done),
    );
    req.on("error", (e) =>
      fail(
        new TrailsealError("TSA_UNAVAILABLE", `TSA ${shown} is unreachable: ${e.message}`, {
          cause: e,
        }),
      ),
    );
    req.end(query);
  });
}

/**
 * Reads the TSA's answer into `done`: HTTP 200 (a redirect is not followed), of content type
 * application/timestamp-reply, at most `maxBytes`; anything else goes to `fail`.
 */
function readReply(
  res: IncomingMessage,
  shown: string,
  maxBytes: number,
  fail: (e: TrailsealError) => void,
  done: (body: Uint8Array) => void,
): void {
  if (res.statusCode !== 200) {
    res.resume();
    return fail(
      new TrailsealError("TSA_UNAVAILABLE", `TSA ${shown} answered HTTP ${res.statusCode ?? "?"}`),
    );
  }
  const type = (res.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/timestamp-reply") {
    res.resume();
    return fail(
      new TrailsealError(
        "TSA_UNAVAILABLE",
        `TSA ${shown} answered with content type ${type || "none"}, not application/timestamp-reply`,
      ),
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  res.on("data", (chunk: Buffer) => {
    size += chunk.byteLength;
    if (size > maxBytes) {
      fail(
        new TrailsealError(
          "TIMESTAMP_INVALID",
          `TSA ${shown} sent a response over ${maxBytes} bytes`,
        ),
      );
      return;
    }
    chunks.push(chunk);
  });
  res.on("end", () => done(new Uint8Array(Buffer.concat(chunks))));
  res.on("error", (e) =>
    fail(new TrailsealError("TSA_UNAVAILABLE", `TSA ${shown}: ${e.message}`, { cause: e })),
  );
}
