/** `trailseal tsa serve` run in-process for tests, and the POST of a query to it. */
import { request } from "node:http";
import { PassThrough, Readable } from "node:stream";
import type { Io } from "../../src/cli/io.js";
import { serve } from "../../src/cli/tsa.js";

/** POSTs a TimeStampReq; resolves with the reply's body. */
export function post(url: string, body: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "POST", headers: { "content-type": "application/timestamp-query" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Runs `tsa serve` in-process with live streams; `stop()` ends it as a signal would. */
export function startServe(
  args: string[],
  options: { cwd: string; env?: Record<string, string | undefined> },
) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let err = "";
  stderr.on("data", (c: Buffer) => (err += c.toString()));
  stdout.resume();
  const io: Io = {
    stdin: Readable.from([]),
    stdout,
    stderr,
    env: options.env ?? {},
    cwd: options.cwd,
    stderrIsTTY: false,
    stdoutIsTTY: false,
    now: () => new Date(),
  };
  let stop: (s: string) => void = () => undefined;
  const stopped = new Promise<string>((r) => (stop = r));
  const code = serve(args, io, () => stopped);
  const url = new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /TSA listening on (\S+)/.exec(err);
      if (m !== null) {
        clearInterval(t);
        resolve(m[1]!);
      }
    }, 10);
    void code.then(() => {
      clearInterval(t);
      reject(new Error(`serve ended early: ${err}`));
    });
  });
  return { url, code, stop, stderr: () => err };
}
