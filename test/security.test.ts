/**
 * The project's security standards, checked through the CLI as a user meets them: passphrases on
 * the command line are warned about, files holding secrets are not left readable by others.
 */
import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { OutputFile } from "../src/cli/common.js";
import type { Io } from "../src/cli/io.js";
import { toBase64 } from "../src/bytes.js";
import { readPrivateKeys } from "../src/keys.js";
import { validateChain } from "../src/pkix/chain.js";
import { certificate as certificateInfo } from "../src/pkix/cert.js";
import { hashAlgorithm, OID } from "../src/pkix/tsp.js";
import { loadSigningIdentity, signDetached, verifyDetached } from "../src/sign.js";
import { checkTsaIdentity, issueToken } from "../src/timestamp/token.js";
import { verifyToken } from "../src/timestamp/verify.js";
import { describeCertificate, readCertificates } from "../src/pem.js";
import { encodeHeader } from "../src/trail/format.js";
import { unlockChannels } from "../src/trail/open.js";
import { readHeader } from "../src/trail/reader.js";
import { ByteSource } from "../src/bytes.js";
import { runCli } from "./helpers/io.js";

const CERTS = join(import.meta.dirname, "..", "testdata", "certs");
const PASS = "trailseal-test";
const NOW = new Date("2030-01-01T00:00:00Z");
const PASS_WARNING =
  "trailseal: warning: --passin pass:… puts the passphrase on the command line, where other users can read it in the process list; prefer env:VAR or file:PATH\n";

describe("--passin pass:TEXT", () => {
  it("is accepted with a warning that does not repeat the secret", async () => {
    const r = await runCli(["pem", "variants/modern.p12", "--passin", `pass:${PASS}`], {
      cwd: CERTS,
      now: NOW,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(PASS_WARNING);
    expect(r.stdout).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  });

  it("is not warned about as env:VAR or file:PATH", async () => {
    const r = await runCli(["pem", "variants/modern.p12", "--passin", "env:P"], {
      cwd: CERTS,
      now: NOW,
      env: { P: PASS },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
  });

  it("warns before a wrong passphrase fails, and neither line holds the passphrase", async () => {
    const r = await runCli(
      [
        "policy",
        "create",
        "--name",
        "x",
        "--encrypt",
        "variants/modern.p12",
        "--passin",
        "pass:Wr0ngSecret",
      ],
      { cwd: CERTS, now: NOW },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `${PASS_WARNING}trailseal: error: wrong password for PKCS#12 file variants/modern.p12\ntrailseal: hint: check the password given with --passin\n`,
    );
    expect(r.stderr).not.toContain("Wr0ngSecret");
    expect(r.stdout).not.toContain("Wr0ngSecret");
  });

  it("warns once per option even when the command reads it twice (share)", async () => {
    const r = await runCli(
      [
        "share",
        "missing.trail",
        "-k",
        "keys/rsa-pkcs8-encrypted.pem",
        "--passin",
        `pass:${PASS}`,
        "--to",
        "rsa2048-b.crt",
        "-o",
        "-",
      ],
      { cwd: CERTS, now: NOW },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${PASS_WARNING}trailseal: error: no such file: missing.trail\n`);
  });
});

const ROOT = join(import.meta.dirname, "..");
const UMASK = process.umask();
const modeOf = (path: string): number => statSync(path).mode & 0o777;
const partials = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith(".partial"));
const memoryIo = (cwd: string): Io => ({
  stdin: Readable.from([]),
  stdout: new PassThrough(),
  stderr: new PassThrough(),
  env: {},
  cwd,
  stderrIsTTY: false,
  stdoutIsTTY: false,
  now: () => NOW,
});

const CAST = [
  JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1764000000 }),
  JSON.stringify([0.1, "o", "[sudo] password for admin: "]),
  JSON.stringify([1.5, "i", "Hunter2-typed\r"]),
  JSON.stringify([1.7, "o", "\r\n# "]),
  "",
].join("\n");

describe("output files", () => {
  it("are written through a 0600 temporary file that gets its mode (less the umask) on commit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    const out = await OutputFile.create("x.trail", memoryIo(dir));
    await out.write(new Uint8Array(300 * 1024)); // past the write batch, so the file has bytes
    const [temp] = partials(dir);
    expect(temp).toMatch(/^\.x\.trail\.[0-9a-f]{12}\.partial$/);
    expect(modeOf(join(dir, temp!))).toBe(0o600);
    await out.commit();
    expect(readdirSync(dir)).toEqual(["x.trail"]);
    expect(modeOf(join(dir, "x.trail"))).toBe(0o644 & ~UMASK);
  });

  it("leave nothing behind on abort", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    const out = await OutputFile.create("x.cast", memoryIo(dir), { mode: 0o600 });
    await out.write(new Uint8Array(300 * 1024));
    expect(partials(dir)).toHaveLength(1);
    await out.abort();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("replay writes decrypted sessions with mode 0600, in every file format", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    writeFileSync(join(dir, "s.cast"), CAST);
    const run = (argv: string[]) => runCli(argv, { cwd: dir, now: NOW });
    const key = join(CERTS, "rsa2048-a.key");
    expect(
      (
        await run([
          "policy",
          "create",
          "--name",
          "p",
          "--encrypt",
          join(CERTS, "rsa2048-a.crt"),
          "-o",
          "p.json",
        ])
      ).code,
    ).toBe(0);
    expect((await run(["seal", "--policy", "p.json", "s.cast", "-o", "s.trail"])).code).toBe(0);
    expect(modeOf(join(dir, "s.trail"))).toBe(0o644 & ~UMASK);
    for (const format of ["asciicast", "asciicast-v3", "raw", "jsonl"]) {
      const r = await run(["replay", "s.trail", "-k", key, "-f", format, "-o", `out.${format}`]);
      expect(r.code).toBe(0);
      expect(modeOf(join(dir, `out.${format}`))).toBe(0o600);
    }
    const r = await run([
      "replay",
      "s.trail",
      "-k",
      key,
      "-f",
      "script",
      "-o",
      "s.log",
      "--timing-output",
      "s.tm",
    ]);
    expect(r.code).toBe(0);
    expect([modeOf(join(dir, "s.log")), modeOf(join(dir, "s.tm"))]).toEqual([0o600, 0o600]);
    expect(partials(dir)).toEqual([]);
    // A timing file that exists: refused, and the typescript's temporary file goes too.
    const refused = await run([
      "replay",
      "s.trail",
      "-k",
      key,
      "-f",
      "script",
      "-o",
      "t.log",
      "--timing-output",
      "s.tm",
    ]);
    expect([refused.code, refused.stderr.split("\n").slice(-3)]).toEqual([
      2,
      [
        "trailseal: error: s.tm already exists",
        "trailseal: hint: choose another name or pass --force",
        "",
      ],
    ]);
    expect(partials(dir)).toEqual([]);
    expect(readdirSync(dir)).not.toContain("t.log");
  });

  it("are removed when a signal ends the command mid-write, and the signal still ends it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    const policy = await runCli(
      [
        "policy",
        "create",
        "--name",
        "p",
        "--encrypt",
        join(CERTS, "rsa2048-a.crt"),
        "-o",
        "p.json",
      ],
      { cwd: dir, now: NOW },
    );
    expect(policy.code).toBe(0);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const child = spawn(
        process.execPath,
        [
          "--import",
          join(ROOT, "node_modules", "tsx", "dist", "esm", "index.mjs"),
          join(ROOT, "src/cli/bin.ts"),
          "seal",
          "--policy",
          "p.json",
          "--from",
          "raw",
          "-",
          "-o",
          "s.trail",
        ],
        { cwd: dir, stdio: ["pipe", "ignore", "pipe"] },
      );
      child.stdin.on("error", () => undefined); // EPIPE once it has ended
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<NodeJS.Signals | null>((r) => child.on("exit", (_, s) => r(s)));
      // Stdin stays open: the seal waits for more, with its temporary file written to.
      const chunk = Buffer.alloc(512 * 1024, 0x61);
      const deadline = Date.now() + 30_000;
      while (partials(dir).length === 0 || statSync(join(dir, partials(dir)[0]!)).size === 0) {
        if (Date.now() > deadline) throw new Error(`no temporary file appeared: ${stderr}`);
        child.stdin.write(chunk);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(modeOf(join(dir, partials(dir)[0]!))).toBe(0o600);
      child.kill(signal);
      expect(await exited).toBe(signal);
      expect(readdirSync(dir).sort()).toEqual(["p.json"]);
    }
  });
});

describe("directories that hold keys or evidence", () => {
  it("init refuses a home others can write to, before writing anything", async () => {
    const home = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    chmodSync(home, 0o777);
    const r = await runCli(["init", "--home", home, "--key-type", "ec"], { now: NOW });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `trailseal: error: ${home} is writable by other users (mode 777); they could replace the authority's keys and certificates\n` +
        `trailseal: hint: chmod 700 ${home}\n`,
    );
    expect(readdirSync(home)).toEqual([]);
  });

  it("an authority whose home became writable by others is not used", async () => {
    const home = join(mkdtempSync(join(tmpdir(), "trailseal-sec-")), "authority");
    expect((await runCli(["init", "--home", home, "--key-type", "ec"], { now: NOW })).code).toBe(0);
    expect(modeOf(home)).toBe(0o700 & ~UMASK);
    chmodSync(home, 0o1777); // sticky or not: others could still add files
    const r = await runCli(
      ["stamp", join(CERTS, "ca.crt"), "--tsa", "local", "--home", home, "-o", "-"],
      { now: NOW },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `trailseal: error: ${home} is writable by other users (mode 777); they could replace the authority's keys and certificates\n` +
        `trailseal: hint: chmod 700 ${home}\n`,
    );
    expect(r.stdout).toBe("");
  });

  it("an authority under a directory others can write to (not sticky) is refused", async () => {
    const parent = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    const home = join(parent, "authority");
    expect((await runCli(["init", "--home", home, "--key-type", "ec"], { now: NOW })).code).toBe(0);
    chmodSync(parent, 0o777);
    const message =
      `trailseal: error: ${parent}, which holds ${home}, is writable by other users (mode 777); they could replace the authority\n` +
      `trailseal: hint: chmod o-w ${parent}, or use a home elsewhere\n`;
    const stamp = ["stamp", join(CERTS, "ca.crt"), "--tsa", "local", "--home", home, "-o", "-"];
    expect(await runCli(stamp, { now: NOW })).toMatchObject({ code: 2, stderr: message });
    chmodSync(parent, 0o1777); // sticky, as /tmp: others cannot rename what is not theirs
    expect((await runCli(stamp, { now: NOW })).code).toBe(0);
  });

  it("demo refuses a directory others can write to", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    chmodSync(dir, 0o777);
    const r = await runCli(["demo", dir], { now: NOW });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `trailseal: error: ${dir} is writable by other users (mode 777); they could replace the demo's keys and certificates\n` +
        `trailseal: hint: chmod o-w ${dir}, or give a new directory\n`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it("under umask 000, nothing written is writable by others (policy, trail, evidence, token)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    writeFileSync(join(dir, "s.cast"), CAST);
    const run = (argv: string[]) => runCli(argv, { cwd: dir, now: new Date() });
    const policy = ["policy", "create", "--name", "p", "--encrypt", join(CERTS, "rsa2048-a.crt")];
    expect((await run(["init", "--home", "authority", "--key-type", "ec"])).code).toBe(0);
    const old = process.umask(0);
    try {
      expect((await run([...policy, "-o", "p.json"])).code).toBe(0);
      expect((await run(["seal", "--policy", "p.json", "s.cast", "-o", "s.trail"])).code).toBe(0);
      expect((await run(["export", "s.trail", "evidence/out"])).code).toBe(0);
      const stamp = ["stamp", "s.trail", "--tsa", "local", "--home", "authority", "-o", "s.tsr"];
      expect((await run(stamp)).code).toBe(0);
    } finally {
      process.umask(old);
    }
    expect([modeOf(join(dir, "evidence")), modeOf(join(dir, "evidence", "out"))]).toEqual([
      0o755, 0o755,
    ]);
    const files = ["p.json", "s.trail", "s.tsr"].concat(
      readdirSync(join(dir, "evidence", "out")).map((f) => join("evidence", "out", f)),
    );
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) expect([f, modeOf(join(dir, f))]).toEqual([f, 0o644]);
  });
});

/**
 * A trail sealed to rsa2048-a, with a stanza for the same downstream file key added the way a
 * tool other than trailseal would make it: `openssl cms -encrypt` with the given options.
 */
async function trailWithForeignStanza(
  dir: string,
  recipient: string,
  opensslOptions: string[],
): Promise<string> {
  writeFileSync(join(dir, "s.cast"), CAST);
  const run = (argv: string[]) => runCli(argv, { cwd: dir, now: NOW });
  const policy = ["policy", "create", "--name", "p", "--encrypt", join(CERTS, "rsa2048-a.crt")];
  expect((await run([...policy, "-o", "p.json"])).code).toBe(0);
  expect((await run(["seal", "--policy", "p.json", "s.cast", "-o", "s.trail"])).code).toBe(0);
  const bytes = readFileSync(join(dir, "s.trail"));
  const src = new ByteSource(Readable.from([bytes]));
  const parsed = await readHeader(src, "s.trail");
  const keys = await readPrivateKeys(readFileSync(join(CERTS, "rsa2048-a.key")), {
    source: "rsa2048-a.key",
  });
  const fileKey = (await unlockChannels(parsed, keys)).keys.downstream!;
  writeFileSync(join(dir, "file.key"), fileKey);
  execFileSync(
    "openssl",
    [
      "cms",
      "-encrypt",
      "-binary",
      "-outform",
      "DER",
      "-in",
      "file.key",
      "-out",
      "stanza.der",
    ].concat(["-recip", join(CERTS, `${recipient}.crt`), ...opensslOptions]),
    { cwd: dir, stdio: "pipe" },
  );
  const cert = (
    await readCertificates(readFileSync(join(CERTS, `${recipient}.crt`)), {
      source: recipient,
    })
  )[0]!;
  const { spkiFingerprint, subject } = describeCertificate(cert);
  const { annex } = encodeHeader(parsed.header, {
    stanzas: [
      {
        channel: "downstream",
        entry: 1,
        layers: [{ spkiFingerprint, subject, keyType: "RSA" }],
        der: toBase64(readFileSync(join(dir, "stanza.der"))),
        added: NOW.toISOString(),
      },
    ],
  });
  const rest: Uint8Array[] = [];
  for (;;) {
    const chunk = await src.read(1 << 20);
    if (chunk.byteLength === 0) break;
    rest.push(chunk);
  }
  writeFileSync(join(dir, "foreign.trail"), Buffer.concat([parsed.sealed, annex, ...rest]));
  return spkiFingerprint;
}

describe("stanzas weaker than trailseal writes", () => {
  const OAEP_256 = ["-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"];
  const table: [string, string, string[], (fp: string) => string][] = [
    [
      "rsa2048-b",
      "rsaes-oaep with sha-1",
      ["-aes-256-cbc", "-keyopt", "rsa_padding_mode:oaep"],
      () => "rsaes-oaep with sha-1",
    ],
    [
      "rsa2048-b",
      "aes-128-cbc content",
      ["-aes-128-cbc", ...OAEP_256, "-keyopt", "rsa_mgf1_md:sha256"],
      () => "aes-128-cbc content encryption",
    ],
    [
      "rsa1024-weak",
      "a 1024-bit recipient",
      ["-aes-256-cbc", ...OAEP_256, "-keyopt", "rsa_mgf1_md:sha256"],
      (fp) => `a 1024-bit RSA key (sha256:${fp})`,
    ],
  ];
  for (const [recipient, title, options, weakness] of table) {
    it(`open with a warning in replay and verify: ${title}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
      const fp = await trailWithForeignStanza(dir, recipient, options);
      const warning = `foreign.trail: added downstream stanza 1 (entry 1) opened the downstream channel, but it uses ${weakness(fp)}: weaker than trailseal writes (rsa 2048+, sha-256, aes-256)`;
      const key = join(CERTS, `${recipient}.key`);
      const replay = await runCli(["replay", "foreign.trail", "-k", key, "-f", "jsonl"], {
        cwd: dir,
        now: NOW,
      });
      expect(replay.code).toBe(0);
      expect(replay.stderr.split("\n")).toContain(`trailseal: warning: ${warning}`);
      expect(replay.stdout).toContain('"data":"[sudo] password for admin: "');
      const verify = await runCli(["verify", "foreign.trail", "-k", key, "--json"], {
        cwd: dir,
        now: NOW,
      });
      expect(verify.code).toBe(0);
      expect((JSON.parse(verify.stdout) as { warnings: string[] }[])[0]!.warnings).toEqual([
        warning,
      ]);
    });
  }

  it("share warns too before it passes the file key on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    await trailWithForeignStanza(dir, "rsa2048-b", [
      "-aes-256-cbc",
      "-keyopt",
      "rsa_padding_mode:oaep",
    ]);
    const r = await runCli(
      [
        "share",
        "foreign.trail",
        "-k",
        join(CERTS, "rsa2048-b.key"),
        "--to",
        join(CERTS, "rsa2048-c.crt"),
        "--channel",
        "downstream",
        "-o",
        "shared.trail",
      ],
      { cwd: dir, now: NOW },
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      "trailseal: warning: foreign.trail: added downstream stanza 1 (entry 1) opened the downstream channel, but it uses rsaes-oaep with sha-1: weaker than trailseal writes (rsa 2048+, sha-256, aes-256)\n",
    );
  });

  it("the same trail opened through trailseal's own stanza has no warning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    await trailWithForeignStanza(dir, "rsa2048-b", [
      "-aes-128-cbc",
      "-keyopt",
      "rsa_padding_mode:oaep",
    ]);
    const key = join(CERTS, "rsa2048-a.key");
    const r = await runCli(["replay", "foreign.trail", "-k", key, "-f", "jsonl"], {
      cwd: dir,
      now: NOW,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/warning/);
  });
});

describe("RSA keys under 2048 bits in evidence", () => {
  // Certificates for the committed 1024-bit key, issued by the test CA (no key is generated).
  const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
  const issue = (name: string, ext: string): Uint8Array => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    openssl([
      "req",
      "-new",
      "-key",
      join(CERTS, "rsa1024-weak.key"),
      "-subj",
      `/CN=weak ${name}`,
      "-out",
      `${name}.csr`,
    ]);
    openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      join(CERTS, "ca.crt"),
      "-CAkey",
      join(CERTS, "ca.key"),
      "-set_serial",
      "7",
      "-days",
      "36500",
      "-extfile",
      `${name}.ext`,
      "-outform",
      "DER",
      "-out",
      `${name}.der`,
    ]);
    return new Uint8Array(readFileSync(join(dir, `${name}.der`)));
  };
  const caDer = async () =>
    (await readCertificates(readFileSync(join(CERTS, "ca.crt")), { source: "ca.crt" }))[0]!;
  const weakKey = async () =>
    (await readPrivateKeys(readFileSync(join(CERTS, "rsa1024-weak.key")), { source: "weak" }))[0]!
      .key;

  it("a checkpoint signature by one is refused (SIGNATURE_INVALID), even chaining to the anchor", async () => {
    const cert = issue(
      "signer",
      "keyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n",
    );
    const ca = await caDer();
    const content = new TextEncoder().encode("checkpoint");
    const p7s = await signDetached(content, { chain: [cert, ca], key: await weakKey() }, NOW);
    await expect(verifyDetached(p7s, content, { anchors: [ca], at: NOW })).rejects.toMatchObject({
      code: "SIGNATURE_INVALID",
      message:
        'signature invalid: "CN=weak signer" has a 1024-bit RSA key; 2048 bits or more required',
    });
  });

  it("a token by one is refused (TIMESTAMP_INVALID), and no TSA issues with one (KEY_TOO_SMALL)", async () => {
    const cert = issue(
      "tsa",
      "keyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n",
    );
    const ca = await caDer();
    const tsa = { chain: [cert, ca], key: await weakKey() };
    const imprint = new Uint8Array(32).fill(7);
    const token = issueToken(tsa, {
      hashAlgorithmDer: hashAlgorithm(OID.sha256),
      digest: imprint,
      nonce: 1n,
      policyOid: "1.2.3.4",
      serial: 1n,
      genTime: NOW,
    });
    await expect(verifyToken(token, { imprint, nonce: 1n, anchors: [ca] })).rejects.toMatchObject({
      code: "TIMESTAMP_INVALID",
      message: "CN=weak tsa has a 1024-bit RSA key; 2048 bits or more required",
    });
    expect(() => checkTsaIdentity(tsa, NOW)).toThrow(
      expect.objectContaining({
        code: "KEY_TOO_SMALL",
        message: "the TSA key of CN=weak tsa has 1024 bits; RSA keys need 2048 or more",
      }),
    );
  });
});

describe("stamp -o", () => {
  it("does not replace an earlier token without --force", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    const run = (argv: string[]) => runCli(argv, { cwd: dir, now: new Date() });
    expect((await run(["init", "--home", "authority", "--key-type", "ec"])).code).toBe(0);
    writeFileSync(join(dir, "report.txt"), "report\n");
    writeFileSync(join(dir, "report.tsr"), "earlier token");
    const stamp = [
      "stamp",
      "report.txt",
      "--tsa",
      "local",
      "--home",
      "authority",
      "-o",
      "report.tsr",
    ];
    const refused = await run(stamp);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      "trailseal: error: report.tsr already exists\ntrailseal: hint: choose another name or pass --force\n",
    );
    expect(readFileSync(join(dir, "report.tsr"), "utf8")).toBe("earlier token");
    const forced = await run([...stamp, "--force"]);
    expect(forced.code).toBe(0);
    expect(readFileSync(join(dir, "report.tsr"))[0]).toBe(0x30); // a DER TimeStampResp
  });
});

describe("a malformed recording", () => {
  it("is named by file, line and fault, without quoting the line (it may hold keystrokes)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    const run = (argv: string[]) => runCli(argv, { cwd: dir, now: NOW });
    const policy = ["policy", "create", "--name", "p", "--encrypt", join(CERTS, "rsa2048-a.crt")];
    expect((await run([...policy, "-o", "p.json"])).code).toBe(0);
    const header = '{"version": 2, "width": 80, "height": 24}\n';
    for (const [line, fault] of [
      ['[1.5, "i", Hunter2-typed]\n', "unexpected token"],
      [
        '[1.5, "i", "Hunter2-typed" 1]\n',
        "Expected ',' or ']' after array element in JSON at position 27",
      ],
    ] as const) {
      writeFileSync(join(dir, "b.cast"), header + line);
      const r = await run(["seal", "--policy", "p.json", "b.cast", "-o", "b.trail"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`trailseal: error: b.cast: line 2: invalid JSON: ${fault}\n`);
    }
  });
});

describe("TSA URL credentials", () => {
  it("stay out of messages even when the URL does not parse", async () => {
    const url = "http://auditor:S3cretPw@[tsa.example/tsr?token=T0ken";
    const stamp = await runCli(["stamp", join(CERTS, "ca.crt"), "--tsa", url, "-o", "-"], {
      now: NOW,
    });
    expect(stamp.code).toBe(2);
    expect(stamp.stderr).toBe(
      "trailseal: error: TSA URL 'http://***@[tsa.example/tsr?***' is not a URL\n",
    );
    const policy = await runCli(
      [
        "policy",
        "create",
        "--name",
        "p",
        "--encrypt",
        join(CERTS, "rsa2048-a.crt"),
        "--timestamp",
        "http://auditor:S3cretPw@tsa.example:99999/",
      ],
      { now: NOW },
    );
    expect(policy.code).toBe(2);
    expect(policy.stderr).toBe(
      'trailseal: error: the policy would be invalid: timestamping.server.server_url: must be an http or https URL, not "http://***@tsa.example:99999/"\n',
    );
  });
});

describe("certificate chains", () => {
  // Certificates made here from committed keys (no key is generated), issued by the test CA.
  const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
  const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const der = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
  const ca = async () =>
    (await readCertificates(readFileSync(join(CERTS, "ca.crt")), { source: "ca.crt" }))[0]!;
  writeFileSync(
    join(dir, "leaf.ext"),
    "keyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n",
  );
  const leafSignedBy = (caCert: string, caKey: string, out: string, sign: string[]) => {
    openssl([
      "req",
      "-new",
      "-key",
      join(CERTS, "rsa2048-b.key"),
      "-subj",
      `/CN=${out}`,
      "-out",
      `${out}.csr`,
    ]);
    openssl([
      "x509",
      "-req",
      "-in",
      `${out}.csr`,
      "-CA",
      caCert,
      "-CAkey",
      caKey,
      "-set_serial",
      "9",
      "-days",
      "36500",
      "-extfile",
      "leaf.ext",
      "-outform",
      "DER",
      "-out",
      `${out}.der`,
      ...sign,
    ]);
    return der(`${out}.der`);
  };
  const untrusted = (leaf: string, why: string) =>
    `certificate "CN=${leaf}" (sha256:${certificateInfo(der(`${leaf}.der`)).fingerprint}) is not trusted at ${NOW.toISOString().replace(".000Z", "Z")}: ${why}`;

  it("refuse a certificate signed with SHA-1 (PKCS#1 v1.5 or RSASSA-PSS) by a trusted CA", async () => {
    for (const [name, sign] of [
      ["sha1-leaf", ["-sha1"]],
      ["pss-sha1-leaf", ["-sha1", "-sigopt", "rsa_padding_mode:pss"]],
    ] as const) {
      const leaf = leafSignedBy(join(CERTS, "ca.crt"), join(CERTS, "ca.key"), name, [...sign]);
      await expect(validateChain(leaf, [], [await ca()], NOW)).rejects.toMatchObject({
        code: "CHAIN_UNTRUSTED",
        message: untrusted(
          name,
          `weak signature: "CN=${name}" is signed with SHA-1, which is refused`,
        ),
      });
    }
    const sound = leafSignedBy(join(CERTS, "ca.crt"), join(CERTS, "ca.key"), "sha256-leaf", [
      "-sha256",
    ]);
    expect((await validateChain(sound, [], [await ca()], NOW)).chain).toHaveLength(2);
  });

  it("seal is told that a SHA-1 signed signing certificate will not verify", async () => {
    const leaf = leafSignedBy(join(CERTS, "ca.crt"), join(CERTS, "ca.key"), "sha1-signer", [
      "-sha1",
    ]);
    const { warnings } = await loadSigningIdentity(
      leaf,
      readFileSync(join(CERTS, "rsa2048-b.key")),
      {
        certSource: "sha1-signer.der",
        keySource: "rsa2048-b.key",
      },
    );
    expect(warnings).toContain(
      'the certificate "CN=sha1-signer" (sha1-signer.der) is signed with SHA-1; verify refuses a chain through it',
    );
  });

  it("refuse an issuer with an RSA key under 2048 bits, even a trust anchor", async () => {
    openssl([
      "req",
      "-x509",
      "-new",
      "-key",
      join(CERTS, "rsa1024-weak.key"),
      "-subj",
      "/CN=weak ca",
      "-days",
      "36500",
      "-addext",
      "basicConstraints=critical,CA:true",
      "-addext",
      "keyUsage=critical,keyCertSign",
      "-out",
      "weak-ca.pem",
    ]);
    const leaf = leafSignedBy("weak-ca.pem", join(CERTS, "rsa1024-weak.key"), "under-weak-ca", [
      "-sha256",
    ]);
    const anchor = (
      await readCertificates(readFileSync(join(dir, "weak-ca.pem")), { source: "weak-ca.pem" })
    )[0]!;
    await expect(validateChain(leaf, [], [anchor], NOW)).rejects.toMatchObject({
      code: "CHAIN_UNTRUSTED",
      message: untrusted(
        "under-weak-ca",
        'weak key: the trust anchor "CN=weak ca" has a 1024-bit RSA key; 2048 bits or more required',
      ),
    });
  });
});

describe("record", () => {
  it("does not hand the --passin env:VAR passphrase to the recorded command", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    const pki = (n: string) => join(ROOT, "testdata", "pki", n);
    const run = (argv: string[], env: Record<string, string | undefined> = {}) =>
      runCli(argv, { cwd: dir, env });
    const policy = ["policy", "create", "--name", "p", "--sign-identity", "signer", "-o", "p.json"];
    expect((await run(policy)).code).toBe(0);
    const r = await run(
      [
        "record",
        "--policy",
        "p.json",
        "--sign-cert",
        pki("signer-rsa-chain.pem"),
        "--sign-key",
        pki("signer-rsa.enc.key"),
      ]
        .concat(["--passin", "env:SIGN_PASS", "-o", "s.trail", "--quiet", "--"])
        .concat(["sh", "-c", 'printf "[%s][%s]" "$SIGN_PASS" "$KEPT"']),
      {
        SIGN_PASS: "trailseal",
        KEPT: "kept",
        PATH: process.env["PATH"],
        TERM: "xterm",
        SHELL: "/bin/sh",
      },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("[][kept]");
  });

  it("--force over a file others could write gives the new trail mode 0600", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    const run = (argv: string[]) =>
      runCli(argv, {
        cwd: dir,
        env: { PATH: process.env["PATH"], TERM: "xterm", SHELL: "/bin/sh" },
      });
    expect((await run(["policy", "create", "--name", "p", "-o", "p.json"])).code).toBe(0);
    writeFileSync(join(dir, "s.trail"), "old");
    chmodSync(join(dir, "s.trail"), 0o666);
    const r = await run([
      "record",
      "--policy",
      "p.json",
      "-o",
      "s.trail",
      "--force",
      "--quiet",
      "--",
      "true",
    ]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(modeOf(join(dir, "s.trail"))).toBe(0o600);
  });
});

describe("TSA URL credentials over plain http", () => {
  it("are warned about (Basic authentication in the clear), without showing them", async () => {
    const r = await runCli(
      [
        "stamp",
        join(CERTS, "ca.crt"),
        "--tsa",
        "http://auditor:S3cretPw@127.0.0.1:9/tsr",
        "--timeout",
        "2",
        "-o",
        "-",
      ],
      { now: NOW },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "trailseal: warning: TSA http://***@127.0.0.1:9/tsr carries credentials over plain http://, readable by anyone on the network path; use https://\n" +
        "trailseal: error: TSA http://***@127.0.0.1:9/tsr is unreachable: connect ECONNREFUSED 127.0.0.1:9\n",
    );
  });
});

describe("export's VERIFY.txt", () => {
  it("sets umask 077 before the commands that write decrypted file keys", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trailseal-sec-"));
    writeFileSync(join(dir, "s.cast"), CAST);
    const run = (argv: string[]) => runCli(argv, { cwd: dir, now: NOW });
    const policy = ["policy", "create", "--name", "p", "--encrypt", join(CERTS, "rsa2048-a.crt")];
    expect((await run([...policy, "-o", "p.json"])).code).toBe(0);
    expect((await run(["seal", "--policy", "p.json", "s.cast", "-o", "s.trail"])).code).toBe(0);
    expect((await run(["export", "s.trail", "ev"])).code).toBe(0);
    const lines = readFileSync(join(dir, "ev", "VERIFY.txt"), "utf8").split("\n");
    const umask = lines.indexOf("umask 077");
    const decrypt = lines.findIndex((l) => l.startsWith("openssl cms -decrypt"));
    expect(umask).toBeGreaterThan(0);
    expect(decrypt).toBeGreaterThan(umask);
    // Run as a script from a loose umask: the file key it writes is the owner's alone.
    const script = ["umask 022", ...lines.slice(umask, decrypt + 1)].join("\n");
    execFileSync(
      "sh",
      ["-c", script.replace("RECIPIENT.key", `'${join(CERTS, "rsa2048-a.key")}'`)],
      {
        cwd: join(dir, "ev"),
        stdio: "pipe",
      },
    );
    expect(modeOf(join(dir, "ev", "stanza-downstream-0.der.key"))).toBe(0o600);
  });
});
