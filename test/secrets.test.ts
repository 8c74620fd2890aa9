/**
 * Secrets never leak: a whole session of the built CLI (init, policy, seal, verify --json,
 * replay, share, record, tsa serve with a passphrase-protected key, and wrong passphrases) runs
 * with its own HOME and TMPDIR, and every byte it printed and every file it wrote is searched for
 * the private keys (PEM body lines and the DER, base64 and hex), the passphrases (right and
 * wrong), and the trail's file keys (opened here with the library). Private keys are 0600.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeRequest } from "../src/timestamp/request.js";
import { openTrail } from "../src/trail/open.js";
import { TESTDATA, stanzaKey } from "./helpers/fixtures.js";
import { BIN, waitUntil } from "./helpers/live-record.js";
import { sha256 } from "./helpers/tsa.js";

const SIGN_PASS = "sign-pass-Vq7Lw2Xr9Kd";
const TSA_PASS = "tsa-pass-Hm4Tz8Qp1Ne";
const WRONG_PASS = "wrong-pass-Bc6Jy3Ws5Fu";
const certs = (n: string) => join(TESTDATA, "certs", n);
let work: string;
afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

interface Output {
  readonly what: string;
  readonly bytes: Buffer;
}

/** Every file under `dir` (recursively). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** The forms a private key could leak in: its PEM lines, its DER in base64 and hex. */
function keyNeedles(name: string, pem: string, passphrase?: string): [string, Buffer][] {
  const key = createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase });
  const der = key.export({ type: "pkcs8", format: "der" });
  const pkcs8 = key.export({ type: "pkcs8", format: "pem" }) as string;
  const lines = [pem, pkcs8]
    .flatMap((p) => p.split("\n"))
    .filter((l) => l.length >= 40 && !l.startsWith("-----"));
  return [
    ...lines.map((l, i): [string, Buffer] => [`${name} PEM line ${i}`, Buffer.from(l)]),
    [`${name} DER`, der],
    [`${name} DER base64`, Buffer.from(der.toString("base64"))],
    [`${name} DER hex`, Buffer.from(der.toString("hex"))],
  ];
}

describe("secrets", () => {
  it("appear in no output, message, --json, log or file of a whole session; keys are 0600", async () => {
    work = await mkdtemp(join(tmpdir(), "trailseal-secrets-"));
    const home = join(work, "home");
    const keys = join(work, "keys"); // the inputs that hold keys by design
    const tmp = join(work, "tmp");
    const out = join(work, "out");
    for (const d of [keys, tmp, out]) await mkdir(d);
    const env = {
      PATH: process.env["PATH"],
      HOME: home,
      TMPDIR: tmp,
      SIGN_PASS,
      TSA_PASS,
      WRONG_PASS,
    };
    const outputs: Output[] = [];
    const cli = (args: string[], expected: number, only?: Record<string, string>): string => {
      const r = spawnSync(process.execPath, [BIN, ...args], {
        // `only`: the environment without the other passphrases (a recorded command sees the
        // user's environment, less the variables the recorder read its passphrases from).
        env: only === undefined ? env : { PATH: env.PATH, HOME: home, TMPDIR: tmp, ...only },
        cwd: out,
        input: "",
        maxBuffer: 64 * 1024 * 1024,
      });
      outputs.push({ what: `${args[0]} stdout`, bytes: r.stdout });
      outputs.push({ what: `${args[0]} stderr`, bytes: r.stderr });
      expect([args.join(" "), r.status, r.stderr.toString()]).toEqual([
        args.join(" "),
        expected,
        expect.any(String),
      ]);
      return r.stderr.toString();
    };

    cli(["init", "--home", home, "--json"], 0);
    for (const k of ["ca.key", "tsa.key", "signer.key"])
      expect((await stat(join(home, k))).mode & 0o777).toBe(0o600);
    // Passphrase-protected copies of the signing and TSA keys, made by openssl.
    for (const [name, pass] of [
      ["signer", SIGN_PASS],
      ["tsa", TSA_PASS],
    ] as const) {
      execFileSync("openssl", [
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-in",
        join(home, `${name}.key`),
        "-out",
        join(keys, `${name}.enc.key`),
        "-passout",
        `pass:${pass}`,
      ]);
    }
    await writeFile(
      join(out, "s.cast"),
      [
        JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1764000000 }),
        JSON.stringify([0.1, "o", "$ "]),
        JSON.stringify([0.5, "i", "hunter2\r"]),
        JSON.stringify([25, "o", "done\r\n"]),
        "",
      ].join("\n"),
    );
    const policy = join(out, "policy.json");
    cli(
      [
        "policy",
        "create",
        "--name",
        "secrets",
        "--encrypt",
        certs("rsa2048-a.crt"),
        "--upstream",
        certs("rsa2048-b.crt"),
        "--sign-identity",
        "signer",
        "--timestamp",
        "local",
        "--interval",
        "10",
        "-o",
        policy,
      ],
      0,
    );
    const signing = [
      "--sign-cert",
      join(home, "signer.crt"),
      "--sign-key",
      join(keys, "signer.enc.key"),
      "--home",
      home,
    ];
    const trail = join(out, "s.trail");
    cli(
      [
        "seal",
        "--policy",
        policy,
        ...signing,
        "--passin",
        "env:SIGN_PASS",
        join(out, "s.cast"),
        "-o",
        trail,
      ],
      0,
    );
    cli(
      [
        "verify",
        trail,
        "--ca",
        join(home, "ca.crt"),
        "--tsa-ca",
        join(home, "ca.crt"),
        "--json",
        "--key",
        certs("rsa2048-a.key"),
      ],
      0,
    );
    cli(
      [
        "replay",
        trail,
        "--key",
        certs("rsa2048-a.key"),
        "--key",
        certs("rsa2048-b.key"),
        "--ca",
        join(home, "ca.crt"),
        "--format",
        "asciicast",
        "-o",
        join(out, "s.replay.cast"),
      ],
      0,
    );
    cli(
      [
        "share",
        trail,
        "--key",
        certs("rsa2048-a.key"),
        "--to",
        certs("rsa2048-c.crt"),
        "--channel",
        "downstream",
        "-o",
        join(out, "shared.trail"),
      ],
      0,
    );
    cli(
      [
        "record",
        "--policy",
        policy,
        ...signing,
        "--passin",
        "env:SIGN_PASS",
        "-o",
        join(out, "r.trail"),
        "--",
        "sh",
        "-c",
        "echo recorded; env",
      ],
      0,
      { SIGN_PASS },
    );
    // Wrong passphrases, each a clear error that does not repeat what was typed.
    const wrongSeal = cli(
      [
        "seal",
        "--policy",
        policy,
        ...signing,
        "--passin",
        "env:WRONG_PASS",
        join(out, "s.cast"),
        "-o",
        join(out, "wrong.trail"),
      ],
      2,
    );
    expect(wrongSeal).toBe(
      `trailseal: error: wrong passphrase for the private key in ${join(keys, "signer.enc.key")}\n` +
        "trailseal: hint: check the passphrase given with --passin\n",
    );
    cli(
      [
        "seal",
        "--policy",
        policy,
        ...signing,
        "--passin",
        `pass:${WRONG_PASS}`,
        join(out, "s.cast"),
        "-o",
        join(out, "wrong2.trail"),
      ],
      2,
    );
    cli(
      [
        "tsa",
        "serve",
        "--cert",
        join(home, "tsa.crt"),
        "--key",
        join(keys, "tsa.enc.key"),
        "--passin",
        "env:WRONG_PASS",
        "--port",
        "0",
      ],
      2,
    );

    // tsa serve with the protected key, one request, then stopped.
    const server = spawn(
      process.execPath,
      [
        BIN,
        "tsa",
        "serve",
        "--cert",
        join(home, "tsa.crt"),
        "--key",
        join(keys, "tsa.enc.key"),
        "--passin",
        "env:TSA_PASS",
        "--port",
        "0",
      ],
      { env, cwd: out, stdio: ["ignore", "pipe", "pipe"] },
    );
    const serverOut: Buffer[] = [];
    const serverErr: Buffer[] = [];
    server.stdout.on("data", (c: Buffer) => serverOut.push(c));
    server.stderr.on("data", (c: Buffer) => serverErr.push(c));
    const stopped = new Promise<number | null>((r) => server.once("close", (c) => r(c)));
    try {
      const url = await waitUntil(
        "tsa serve to listen",
        () => /TSA listening on (\S+) /.exec(Buffer.concat(serverErr).toString())?.[1],
      );
      const query = makeRequest(sha256("secrets"), { nonce: 5n, certReq: true });
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          url,
          { method: "POST", headers: { "content-type": "application/timestamp-query" } },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          },
        );
        req.on("error", reject);
        req.end(query);
      });
      expect(status).toBe(200);
      server.kill("SIGTERM");
      expect(await stopped).toBe(0);
    } finally {
      server.kill("SIGKILL");
    }
    outputs.push({ what: "tsa serve stdout", bytes: Buffer.concat(serverOut) });
    outputs.push({ what: "tsa serve stderr", bytes: Buffer.concat(serverErr) });

    // The secrets: every private key in play, the passphrases, the file keys of both trails.
    const needles: [string, Buffer][] = [];
    for (const k of ["ca.key", "tsa.key", "signer.key"])
      needles.push(...keyNeedles(`home/${k}`, await readFile(join(home, k), "utf8")));
    needles.push(
      ...keyNeedles(
        "signer.enc.key",
        await readFile(join(keys, "signer.enc.key"), "utf8"),
        SIGN_PASS,
      ),
    );
    for (const k of ["rsa2048-a.key", "rsa2048-b.key"])
      needles.push(...keyNeedles(k, await readFile(certs(k), "utf8")));
    for (const pass of [SIGN_PASS, TSA_PASS, WRONG_PASS])
      needles.push([`passphrase ${pass}`, Buffer.from(pass)]);
    for (const t of ["s.trail", "r.trail"]) {
      const opened = await openTrail(createReadStream(join(out, t)), t, [
        stanzaKey("certs/rsa2048-a.key"),
        stanzaKey("certs/rsa2048-b.key"),
      ]);
      for (const [channel, key] of Object.entries(opened.unlocked.keys)) {
        const k = Buffer.from(key);
        needles.push(
          [`${t} ${channel} file key`, k],
          [`${t} ${channel} file key hex`, Buffer.from(k.toString("hex"))],
          [`${t} ${channel} file key base64`, Buffer.from(k.toString("base64"))],
        );
      }
      expect(Object.keys(opened.unlocked.keys).sort()).toEqual(["downstream", "upstream"]);
    }

    // Everything written: the outputs, and every file except the key files themselves.
    for (const file of [...(await filesUnder(work))]) {
      const rel = relative(work, file);
      if (rel.startsWith("keys/") || /^home\/(ca|tsa|signer)\.key$/.test(rel)) continue;
      outputs.push({ what: rel, bytes: await readFile(file) });
    }
    expect(outputs.map((o) => o.what)).toEqual(
      expect.arrayContaining([
        "out/s.trail",
        "out/r.trail",
        "out/shared.trail",
        "out/s.replay.cast",
        "home/ca.crt",
      ]),
    );
    // The search finds what is there: a key file holds its own PEM lines and DER base64.
    const signerKey = await readFile(join(home, "signer.key"));
    expect(
      needles.filter(([what, n]) => what.startsWith("home/signer.key") && signerKey.includes(n))
        .length,
    ).toBeGreaterThan(5);
    const found = outputs.flatMap((o) =>
      needles.filter(([, n]) => o.bytes.includes(n)).map(([what]) => `${what} in ${o.what}`),
    );
    expect(found).toEqual([]);
    // The recorded command saw no passphrase in its environment either (its `env` is in r.trail,
    // searched above); the record said what it recorded.
    expect(await readdir(tmp)).toEqual([]);
  }, 120_000);
});
