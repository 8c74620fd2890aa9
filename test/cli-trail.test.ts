/** The trail commands end to end, in-process: policy create → seal → inspect → replay → share. */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { PassThrough, Readable, Writable } from "node:stream";
import { createHmac } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { chainBrokenAt } from "./helpers/chain.js";
import { runCli } from "./helpers/io.js";
import { run } from "../src/cli/main.js";
import { TESTDATA } from "./helpers/fixtures.js";
import { shellQuote } from "./helpers/recordings.js";

const certs = (n: string) => join(TESTDATA, "certs", n);
const dir = mkdtempSync(join(tmpdir(), "trailseal-cli-"));
const p = (n: string) => join(dir, n);

const CAST = [
  JSON.stringify({
    version: 2,
    width: 80,
    height: 24,
    timestamp: 1764000000,
    command: "bash",
    env: { TERM: "xterm-256color", SHELL: "/bin/bash" },
  }),
  JSON.stringify([0.1, "o", "$ "]),
  JSON.stringify([0.5, "i", "sudo -i\r"]),
  JSON.stringify([0.6, "o", "sudo -i\r\n[sudo] password for admin: "]),
  JSON.stringify([1.5, "i", "hunter2\r"]),
  JSON.stringify([1.7, "o", "\r\n# "]),
  JSON.stringify([2.0, "r", "100x30"]),
  JSON.stringify([2.5, "m", "root"]),
  JSON.stringify([3.25, "o", "héllo wörld ✓\r\n"]),
  "",
].join("\n");
/** Both keys of the downstream four-eyes entry (rsa2048-a inside, ec-p256-a outside). */
const FOUR_EYES = ["--key", certs("rsa2048-a.key"), "--key", certs("ec-p256-a.key")];
const SCREEN = "$ sudo -i\r\n[sudo] password for admin: \r\n# héllo wörld ✓\r\n";
/** A test recipient as replay names it: the SHA-256 of its public key (openssl's), its subject. */
function recipient(name: string): string {
  const fp = execFileSync("sh", [
    "-c",
    `openssl x509 -in ${shellQuote(certs(`${name}.crt`))} -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum`,
  ])
    .toString()
    .slice(0, 64);
  return `sha256:${fp} (O=trailseal tests, CN=trailseal test recipient ${name})`;
}
/** The key of a test recipient as replay names a key given: fingerprint and file. */
const keyGiven = (name: string): string =>
  `${recipient(name).replace(/ \(.*/, "")} (${certs(`${name}.key`)})`;
/** The start of replay's refusal of s.trail when no key given opens the screen. */
const NO_SCREEN_KEY = () =>
  `trailseal: error: no key given opens the downstream channel (the screen) of ${p("s.trail")}; any one of these would:\n` +
  `  entry 0: four-eyes: both ${recipient("ec-p256-a")} and ${recipient("rsa2048-a")}\n` +
  "and for the upstream channel (keystrokes), any one of:\n" +
  `  entry 0: ${recipient("rsa2048-c")}\n`;

async function ok(argv: string[], options: Parameters<typeof runCli>[1] = {}) {
  const r = await runCli(argv, { cwd: dir, ...options });
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r;
}

describe("seal, inspect, replay, share", () => {
  beforeAll(async () => {
    writeFileSync(p("s.cast"), CAST);
    // four-eyes downstream (a + ec-p256), separate upstream (c)
    await ok([
      "policy",
      "create",
      "--name",
      "t",
      "--encrypt",
      `${certs("rsa2048-a.crt")},${certs("ec-p256-a.crt")}`,
      "--upstream",
      certs("rsa2048-c.crt"),
      "-o",
      p("policy.json"),
    ]);
    await ok(["policy", "create", "--name", "clear", "-o", p("clear.json")]);
    const r = await ok(["seal", "--policy", p("policy.json"), p("s.cast"), "-o", p("s.trail")]);
    expect(r.stdout).toMatch(
      /^sealed .*s\.cast \(asciicast\) into .*s\.trail: \d+ records, 1 checkpoint; downstream encrypted \(1 alternative\), upstream encrypted \(1 alternative\); not signed, not timestamped\n$/,
    );
  });

  it("replays with both four-eyes keys and the upstream key: exactly the recorded events", async () => {
    const r = await ok([
      "replay",
      p("s.trail"),
      ...FOUR_EYES,
      "--key",
      certs("rsa2048-c.key"),
      "--format",
      "jsonl",
    ]);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l["t"], l["type"]])).toEqual([
      [0.1, "output"],
      [0.5, "input"],
      [0.6, "output"],
      [1.5, "input"],
      [1.7, "output"],
      [2, "resize"],
      [2.5, "marker"],
      [3.25, "output"],
    ]);
    expect(r.stderr).toBe("");
  });

  it("raw replay is exactly the downstream bytes; upstream hidden with a notice naming its certificate", async () => {
    const r = await ok(["replay", p("s.trail"), ...FOUR_EYES, "--format", "raw"]);
    expect(r.stdout).toBe(SCREEN);
    expect(r.stderr).toBe(
      "trailseal: notice: the keystrokes (upstream) are hidden: no key given opens them; any one of these would:\n" +
        `  entry 0: ${recipient("rsa2048-c")}\n`,
    );
  });

  it("one four-eyes key alone is refused, naming both fingerprints (exit 1)", async () => {
    const r = await runCli(["replay", p("s.trail"), "--key", certs("rsa2048-a.key")], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      NO_SCREEN_KEY() +
        `entry 0 (downstream) is missing the key of ${recipient("ec-p256-a")}\n` +
        `the keys given: ${keyGiven("rsa2048-a")}\n` +
        "trailseal: hint: a four-eyes entry needs both keys: repeat --key\n",
    );
    expect(r.stdout).toBe("");
  });

  it("each four-eyes key alone is refused naming the key still missing, and the keys given", async () => {
    for (const [have, missing] of [
      ["rsa2048-a", "ec-p256-a"],
      ["ec-p256-a", "rsa2048-a"],
    ] as const) {
      const r = await runCli(["replay", p("s.trail"), "--key", certs(`${have}.key`)], {
        cwd: dir,
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        NO_SCREEN_KEY() +
          `entry 0 (downstream) is missing the key of ${recipient(missing)}\n` +
          `the keys given: ${keyGiven(have)}\n` +
          "trailseal: hint: a four-eyes entry needs both keys: repeat --key\n",
      );
    }
    // A key of no entry at all: no four-eyes hint.
    const r = await runCli(["replay", p("s.trail"), "--key", certs("rsa2048-b.key")], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      NO_SCREEN_KEY() +
        `the keys given: ${keyGiven("rsa2048-b")}\n` +
        "trailseal: hint: none of the keys given is one of these: use the private key of a certificate listed\n",
    );
  });

  it("asciicast output plays in asciinema: `asciinema cat` prints exactly the downstream bytes", async () => {
    await ok(["replay", p("s.trail"), ...FOUR_EYES, "-o", p("out.cast")]);
    // asciinema 2 opens /dev/tty, so it runs under a pseudo-terminal (script); its stdout goes to a file.
    execFileSync(
      "script",
      [
        "-qec",
        `asciinema cat ${shellQuote(p("out.cast"))} > ${shellQuote(p("cat.out"))}`,
        "/dev/null",
      ],
      {
        // Set, not inherited: an inherited LC_ALL (C, or a locale not installed) beats LANG and
        // asciinema refuses to run; script runs the command with $SHELL.
        env: { ...process.env, LANG: "C.UTF-8", LC_ALL: "C.UTF-8", SHELL: "/bin/sh" },
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    expect(readFileSync(p("cat.out"), "utf8")).toBe(SCREEN);
  });

  it("inspect shows channels, recipients and counts without a key", async () => {
    const r = await ok(["inspect", "--json", p("s.trail")]);
    const s = JSON.parse(r.stdout);
    expect(s.channels.downstream.alternatives).toHaveLength(1);
    expect(s.channels.downstream.alternatives[0].fourEyes).toBe(true);
    expect(
      s.channels.downstream.alternatives[0].recipients.map((x: { keyType: string }) => x.keyType),
    ).toEqual(["EC", "RSA"]);
    expect(s.channels.upstream.frames).toBe(3);
    expect(s.session.command).toBe("bash");
    expect(s.end).toEqual({ state: "complete", reason: null, lastCheckpoint: 1 });
    const h = await ok(["inspect", p("s.trail")]);
    expect(h.stdout).toContain("downstream: encrypted, ");
    expect(h.stdout).toContain("entry 0: four-eyes, both of\n");
  });

  it("share adds a stanza for a third party; frames are copied unchanged; inspect marks it", async () => {
    await ok([
      "share",
      p("s.trail"),
      ...FOUR_EYES,
      "--key",
      certs("rsa2048-c.key"),
      "--to",
      certs("rsa2048-d.crt"),
      "-o",
      p("shared.trail"),
    ]);
    const a = readFileSync(p("s.trail"));
    const b = readFileSync(p("shared.trail"));
    // Same sealed header and the same records byte for byte; only the annex differs.
    const sealedLength = 14 + a.readUInt32BE(10);
    expect(b.subarray(0, sealedLength)).toEqual(a.subarray(0, sealedLength));
    const annexA = a.readUInt32BE(sealedLength);
    const annexB = b.readUInt32BE(sealedLength);
    expect(annexA).toBe(0);
    expect(b.subarray(sealedLength + 4 + annexB)).toEqual(a.subarray(sealedLength + 4));
    const r = await ok([
      "replay",
      p("shared.trail"),
      "--key",
      certs("rsa2048-d.key"),
      "--format",
      "raw",
    ]);
    expect(r.stdout).toBe(SCREEN);
    expect(r.stderr).toBe(""); // d opens upstream too
    const s = JSON.parse((await ok(["inspect", "--json", p("shared.trail")])).stdout);
    expect(s.channels.downstream.alternatives[1].added).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(s.channels.upstream.alternatives[1].added).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("share refuses a tampered trail (nothing written) and copies a truncated one with a warning", async () => {
    const a = readFileSync(p("s.trail"));
    const sealedLength = 14 + a.readUInt32BE(10);
    // The first record's body starts after the empty annex (4 bytes) and its 24-byte prefix.
    const tampered = Buffer.from(a);
    tampered[sealedLength + 4 + 24 + 5]! ^= 0x01;
    writeFileSync(p("tampered.trail"), tampered);
    const share = (input: string, output: string) =>
      runCli(
        [
          "share",
          p(input),
          ...FOUR_EYES,
          "--key",
          certs("rsa2048-c.key"),
          "--to",
          certs("rsa2048-d.crt"),
          "-o",
          p(output),
        ],
        { cwd: dir },
      );
    const refused = await share("tampered.trail", "tampered-shared.trail");
    const broken = chainBrokenAt(tampered, 1);
    expect(broken).toMatch(/^record 10: checkpoint 1 covers .* records 0-9 hash to /);
    expect([refused.code, refused.stderr]).toEqual([
      1,
      `trailseal: error: ${p("tampered.trail")}: ${broken}\ntrailseal: hint: a record before this checkpoint was altered, inserted or removed\n`,
    ]);
    const v = JSON.parse(
      (await runCli(["verify", "--json", p("tampered.trail")], { cwd: dir })).stdout,
    );
    expect(refused.stderr).toContain(v[0].integrity.error.message);
    expect(existsSync(p("tampered-shared.trail"))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes("tampered-shared"))).toEqual([]);

    // Cut inside the last record: the copy has the same records and the same cut.
    writeFileSync(p("cut.trail"), a.subarray(0, a.byteLength - 7));
    const cut = await share("cut.trail", "cut-shared.trail");
    expect(cut.code, cut.stderr).toBe(0);
    expect(cut.stderr.replace(/ at byte \d+\)/, " at byte N)")).toBe(
      `trailseal: warning: ${p("cut.trail")} is truncated (record 10 is cut short at byte N): the trail has no checkpoint at all; 10 frames are not covered by any checkpoint; the copy is truncated in the same way\n`,
    );
    const b = readFileSync(p("cut-shared.trail"));
    const annexB = b.readUInt32BE(sealedLength);
    expect(b.subarray(sealedLength + 4 + annexB)).toEqual(
      a.subarray(sealedLength + 4, a.byteLength - 7),
    );
  });

  it("inspect shows control characters from the annex (anyone can write it) as escapes", async () => {
    const b = readFileSync(p("shared.trail"));
    const sealedLength = 14 + b.readUInt32BE(10);
    const annexLength = b.readUInt32BE(sealedLength);
    const annex = JSON.parse(
      b.subarray(sealedLength + 4, sealedLength + 4 + annexLength).toString(),
    );
    annex.stanzas[0].layers[0].subject = "CN=\x1b[2K\rforged\x07";
    annex.stanzas[0].added = "\x1b]0;owned\x07\u009b2J";
    const json = Buffer.from(JSON.stringify(annex));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(json.byteLength);
    writeFileSync(
      p("evil.trail"),
      Buffer.concat([
        b.subarray(0, sealedLength),
        length,
        json,
        b.subarray(sealedLength + 4 + annexLength),
      ]),
    );
    const r = await ok(["inspect", p("evil.trail")]);
    // eslint-disable-next-line no-control-regex
    expect(r.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    expect(r.stdout).toContain(
      "RSA (CN=\\x1b[2K\\x0dforged\\x07) [added after sealing, \\x1b]0;owned\\x07\\x9b2J]\n",
    );
  });

  it("a key given as a trust anchor is explained without the SPS API's words", async () => {
    const r = await runCli(["verify", p("s.trail"), "--ca", certs("rsa2048-a.key")], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `trailseal: error: ${certs("rsa2048-a.key")} holds a private key, not a certificate: a certificate (the public half) is wanted here, never the private key\n` +
        "trailseal: hint: give the certificate file (.crt/.pem), or a PKCS#12 file with --passin\n",
    );
  });

  it("a missing trail is named once, by every command that reads one", async () => {
    for (const argv of [
      ["inspect", "gone.trail"],
      ["replay", "gone.trail", "--format", "raw"],
      [
        "share",
        "gone.trail",
        "--key",
        certs("rsa2048-a.key"),
        "--to",
        certs("rsa2048-b.crt"),
        "-o",
        "x.trail",
      ],
      ["export", "gone.trail", "gone-evidence"],
    ]) {
      const r = await runCli(argv, { cwd: dir });
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stderr, argv.join(" ")).toBe("trailseal: error: no such file: gone.trail\n");
    }
    // A directory is named as one (inputStream's other refusal), before any work starts.
    for (const argv of [
      ["inspect", "."],
      ["replay", ".", "--format", "raw"],
    ]) {
      const r = await runCli(argv, { cwd: dir });
      expect([r.code, r.stdout, r.stderr], argv.join(" ")).toEqual([
        2,
        "",
        "trailseal: error: . is a directory, not a file\n",
      ]);
    }
  });

  it("inspect shows the recording's other header fields, a long one cut short", async () => {
    const palette = Array.from({ length: 16 }, (_, i) => `#${String(i).padStart(6, "0")}`);
    const header = {
      version: 2,
      width: 80,
      height: 24,
      idle_time_limit: 2.5,
      tags: ["prod", "db"],
      theme: { fg: "#ffffff", bg: "#000000", palette: palette.join(":") },
      notes: "n".repeat(300),
    };
    writeFileSync(p("extra.cast"), `${JSON.stringify(header)}\n[0.5, "o", "hi"]\n`);
    await ok(["seal", "--policy", p("clear.json"), p("extra.cast"), "-o", p("extra.trail")]);
    const r = await ok(["inspect", p("extra.trail")]);
    expect(r.stdout).toContain(
      "  extra.idle_time_limit: 2.5\n" +
        '  extra.tags: ["prod","db"]\n' +
        `  extra.theme: ${JSON.stringify(header.theme)}\n` +
        `  extra.notes: "${"n".repeat(199)}… (302 characters)\n`,
    );
    // Counts read as English: "1 frame", "1 checkpoint".
    expect(r.stdout).toContain("upstream: clear, 1 frame, 1 byte\n");
    expect(r.stdout).toMatch(
      /\n4 records, \d+ bytes, 0\.5s of session; 1 checkpoint \(0 signed\); 0 timestamps\n/,
    );
    const v = await runCli(["verify", p("extra.trail")], { cwd: dir });
    expect(v.stdout).toContain("UPSTREAM    clear, 1 frame\n");
    const j = JSON.parse((await ok(["inspect", "--json", p("extra.trail")])).stdout);
    expect(j.session.extra).toEqual({
      idle_time_limit: 2.5,
      tags: ["prod", "db"],
      theme: header.theme,
      notes: header.notes,
    });
  });

  it("a clear policy seals and replays without keys", async () => {
    await ok(["seal", "--policy", p("clear.json"), p("s.cast"), "-o", p("clear.trail")]);
    expect((await ok(["replay", p("clear.trail"), "--format", "raw"])).stdout).toBe(SCREEN);
  });

  it("share of a clear trail says there is nothing to share, not that the keys open nothing", async () => {
    for (const [channel, what] of [
      ["all", "both channels of clear.trail are"],
      ["upstream", "the upstream channel of clear.trail is"],
    ] as const) {
      const r = await runCli(
        [
          "share",
          "clear.trail",
          "--channel",
          channel,
          "--to",
          certs("rsa2048-d.crt"),
          "-o",
          "x.trail",
        ],
        { cwd: dir },
      );
      expect([r.code, r.stderr.split("\n").at(-2)]).toEqual([
        2,
        `trailseal: error: nothing to share: ${what} clear, readable without any key`,
      ]);
      expect(existsSync(p("x.trail"))).toBe(false);
    }
  });

  it("raw input seals as downstream and replays byte for byte", async () => {
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 31) % 256);
    writeFileSync(p("blob.bin"), bytes);
    await ok([
      "seal",
      "--policy",
      p("policy.json"),
      "--from",
      "raw",
      p("blob.bin"),
      "-o",
      p("blob.trail"),
    ]);
    const r = await ok(["replay", p("blob.trail"), ...FOUR_EYES, "--format", "raw"]);
    expect(Buffer.from(r.stdoutBytes).equals(Buffer.from(bytes))).toBe(true);
  });

  it("refuses to overwrite an existing trail without --force, and leaves nothing half-written", async () => {
    const r = await runCli(
      ["seal", "--policy", p("policy.json"), p("s.cast"), "-o", p("s.trail")],
      { cwd: dir },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `trailseal: error: ${p("s.trail")} already exists\ntrailseal: hint: choose another name or pass --force\n`,
    );
    const bad = await runCli(
      [
        "seal",
        "--policy",
        p("policy.json"),
        "--from",
        "asciicast",
        p("blob.bin"),
        "-o",
        p("never.trail"),
      ],
      { cwd: dir },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`trailseal: error: ${p("blob.bin")}: line 1: not valid UTF-8\n`);
    expect(existsSync(p("never.trail"))).toBe(false);
  });

  it("a policy that enables signing without an identity is a usage error with a hint", async () => {
    await ok([
      "policy",
      "create",
      "--name",
      "signed",
      "--sign-identity",
      "signer",
      "-o",
      p("signed.json"),
    ]);
    const r = await runCli(
      ["seal", "--policy", p("signed.json"), p("s.cast"), "-o", p("x.trail")],
      { cwd: dir },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "trailseal: error: policy signed enables signing (identity signer), but no signing certificate and key were given\n" +
        "trailseal: hint: pass --sign-cert FILE --sign-key FILE, or --home DIR to use the signing identity 'trailseal init' made\n",
    );
  });

  it("export: two chained openssl cms -decrypt open the four-eyes stanza; the key matches the commitment", async () => {
    await ok(["export", p("s.trail"), p("ev")]);
    const verify = readFileSync(p("ev/VERIFY.txt"), "utf8");
    // The outer layer is the four_eyes_certificate (ec-p256-a), the inner the certificate (rsa2048-a).
    const lines = verify
      .split("\n")
      .filter((l) => l.startsWith("openssl") && l.includes("stanza-downstream-0"));
    expect(lines).toHaveLength(3);
    const run = (l: string) =>
      execFileSync(
        "sh",
        [
          "-c",
          l
            .replace("OUTER.key", shellQuote(certs("ec-p256-a.key")))
            .replace("INNER.key", shellQuote(certs("rsa2048-a.key"))),
        ],
        { cwd: p("ev") },
      ).toString();
    run(lines[0]!);
    run(lines[1]!);
    const mac = run(lines[2]!).trim().split(" ").at(-1);
    const header = JSON.parse(readFileSync(p("ev/header.json"), "utf8"));
    expect(mac).toBe(header.channels.downstream.commitment);
    // Either key alone gets nowhere: the inner envelope needs the RSA key, the outer the EC key.
    const wrong = spawnSync("openssl", [
      "cms",
      "-decrypt",
      "-binary",
      "-inform",
      "DER",
      "-in",
      p("ev/stanza-downstream-0.der"),
      "-inkey",
      certs("rsa2048-a.key"),
    ]);
    expect(wrong.status).toBe(4);
    expect(wrong.stderr.toString()).toMatch(/CMS_decrypt_set1_pkey_and_peer:no matching recipient/);
  });

  it("script export plays in scriptreplay: exactly the downstream bytes", async () => {
    await ok([
      "replay",
      p("s.trail"),
      ...FOUR_EYES,
      "--format",
      "script",
      "-o",
      p("s.log"),
      "--timing-output",
      p("s.tm"),
    ]);
    const played = execFileSync("scriptreplay", [
      "--timing",
      p("s.tm"),
      "--divisor",
      "1000",
      p("s.log"),
    ]).toString("utf8");
    // scriptreplay prints one newline of its own at the end.
    expect(played).toBe(`${SCREEN}\n`);
  });

  it("RSASSA-PSS signatures (--sign-pss) verify, here and in openssl", async () => {
    const pki = (n: string) => join(TESTDATA, "pki", n);
    await ok([
      "policy",
      "create",
      "--name",
      "pss",
      "--sign-identity",
      "signer",
      "-o",
      p("pss.json"),
    ]);
    await ok([
      "seal",
      "--policy",
      p("pss.json"),
      "--sign-cert",
      pki("signer-rsa-chain.pem"),
      "--sign-key",
      pki("signer-rsa.key"),
      "--sign-pss",
      p("s.cast"),
      "-o",
      p("pss.trail"),
    ]);
    const v = await runCli(["verify", p("pss.trail"), "--ca", pki("root-ca.pem")], { cwd: dir });
    expect(v.code).toBe(0);
    await ok(["export", p("pss.trail"), p("pss-ev")]);
    const print = execFileSync("openssl", [
      "cms",
      "-cmsout",
      "-print",
      "-inform",
      "DER",
      "-in",
      p("pss-ev/checkpoint-001.p7s"),
    ]).toString();
    expect(print).toContain("rsassaPss");
    const r = spawnSync("openssl", [
      "cms",
      "-verify",
      "-binary",
      "-inform",
      "DER",
      "-in",
      p("pss-ev/checkpoint-001.p7s"),
      "-content",
      p("pss-ev/checkpoint-001.txt"),
      "-CAfile",
      pki("root-ca.pem"),
      "-purpose",
      "any",
      "-out",
      "/dev/null",
    ]);
    expect(r.status, r.stderr.toString()).toBe(0);
  });
});

describe("where replay and seal write", () => {
  const out = (n: string) => join(dir, "out", n);
  beforeAll(async () => {
    execFileSync("mkdir", ["-p", join(dir, "out")]);
    writeFileSync(out("s.cast"), CAST);
    await ok(["policy", "create", "--name", "clear", "-o", out("clear.json")]);
    await ok(["seal", "--policy", out("clear.json"), out("s.cast"), "-o", out("s.trail")]);
  });

  it("a truncated trail replays its verified prefix and exits 1, from a file as from stdin", async () => {
    const cast = [
      JSON.stringify({ version: 2, width: 80, height: 24 }),
      JSON.stringify([1, "o", "a"]),
      JSON.stringify([15, "o", "b"]),
      JSON.stringify([25, "o", "c"]),
      "",
    ].join("\n");
    writeFileSync(out("t.cast"), cast);
    await ok(["policy", "create", "--name", "ten", "--interval", "10", "-o", out("ten.json")]);
    await ok(["seal", "--policy", out("ten.json"), out("t.cast"), "-o", out("t.trail")]);
    const whole = readFileSync(out("t.trail"));
    writeFileSync(out("cut.trail"), whole.subarray(0, whole.byteLength - 10)); // inside the final checkpoint
    const raw = ["--format", "raw"];
    const prefix = await runCli(["replay", out("cut.trail"), ...raw], { cwd: dir });
    expect([prefix.code, prefix.stdout]).toEqual([1, "ab"]);
    // The byte where the cut falls depends on the sealed sizes; the rest is exact.
    const atByte = (text: string) => text.replace(/ at byte \d+\b/, " at byte N");
    expect(atByte(prefix.stderr)).toBe(
      `trailseal: warning: ${out("cut.trail")} is truncated (record 7 is cut short at byte N): verification stops at checkpoint 2 (session time 20s); 3 frames after it are not covered by any checkpoint\n` +
        "trailseal: hint: only the verified prefix is replayed; pass --unverified-tail for the rest\n",
    );
    const tail = await runCli(["replay", out("cut.trail"), ...raw, "--unverified-tail"], {
      cwd: dir,
    });
    expect([tail.code, tail.stdout]).toEqual([1, "abc"]);
    const piped = await runCli(["replay", "-", ...raw], {
      cwd: dir,
      stdin: readFileSync(out("cut.trail")),
    });
    expect([piped.code, piped.stdout]).toEqual([1, "abc"]);
    expect(atByte(piped.stderr)).toBe(
      "trailseal: warning: <stdin> is truncated: record 7 is cut short at byte N\n",
    );
    const complete = await runCli(["replay", out("t.trail"), ...raw], { cwd: dir });
    expect([complete.code, complete.stdout, complete.stderr]).toEqual([0, "abc", ""]);
  });

  it("openssl cms -decrypt opens every stanza the trail holds, sealed and shared, RSA and EC; each key matches its channel's commitment", async () => {
    await ok([
      "policy",
      "create",
      "--name",
      "mixed",
      "--encrypt",
      certs("rsa2048-a.crt"),
      "--upstream",
      certs("ec-p384-a.crt"),
      "-o",
      out("mixed.json"),
    ]);
    await ok(["seal", "--policy", out("mixed.json"), out("s.cast"), "-o", out("m.trail")]);
    await ok([
      "share",
      out("m.trail"),
      "--key",
      certs("rsa2048-a.key"),
      "--key",
      certs("ec-p384-a.key"),
      "--to",
      certs("ec-p256-a.crt"),
      "-o",
      out("m2.trail"),
    ]);
    await ok(["export", out("m2.trail"), out("m-ev")]);
    const ev = (n: string) => join(out("m-ev"), n);
    const header = JSON.parse(readFileSync(ev("header.json"), "utf8"));
    const stanzas = readdirSync(out("m-ev")).filter((n) => n.startsWith("stanza-"));
    expect(stanzas.sort()).toEqual([
      "stanza-downstream-0.der",
      "stanza-downstream-added-0.der",
      "stanza-upstream-0.der",
      "stanza-upstream-added-1.der",
    ]);
    const keyFor: Record<string, string> = {
      "stanza-downstream-0.der": "rsa2048-a",
      "stanza-upstream-0.der": "ec-p384-a",
      "stanza-downstream-added-0.der": "ec-p256-a",
      "stanza-upstream-added-1.der": "ec-p256-a",
    };
    for (const name of stanzas) {
      const fileKey = execFileSync("openssl", [
        "cms",
        "-decrypt",
        "-binary",
        "-inform",
        "DER",
        "-in",
        ev(name),
        "-inkey",
        certs(`${keyFor[name]}.key`),
      ]);
      expect(fileKey.byteLength, name).toBe(32);
      const channel = name.includes("upstream") ? "upstream" : "downstream";
      const mac = createHmac("sha256", fileKey)
        .update(readFileSync(ev(`commitment-label-${channel}.txt`)))
        .digest("hex");
      expect(mac, name).toBe(header.channels[channel].commitment);
    }
  });

  it("an error in a record names the trail file as well as the record", async () => {
    const t = Buffer.from(readFileSync(out("s.trail")));
    const sealedLength = 14 + t.readUInt32BE(10);
    const first = sealedLength + 4 + t.readUInt32BE(sealedLength); // record 0: a clear frame
    t.writeUInt8(t.readUInt8(first + 25) ^ 0x01, first + 25); // its first payload byte
    writeFileSync(out("bent.trail"), t);
    // The chain heads follow from the per-run keys: computed from the bytes (test/helpers/chain.ts).
    const broken = chainBrokenAt(t, 1);
    expect(broken).toMatch(/^record 10: checkpoint 1 covers .* records 0-9 hash to /);
    const chainBroken = (name: string) =>
      `trailseal: error: ${name}: ${broken}\n` +
      "trailseal: hint: a record before this checkpoint was altered, inserted or removed\n";
    const inspect = await runCli(["inspect", "out/bent.trail"], { cwd: dir });
    expect([inspect.code, inspect.stderr]).toEqual([1, chainBroken("out/bent.trail")]);
    const replay = await runCli(["replay", "out/bent.trail"], { cwd: dir });
    expect([replay.code, replay.stderr]).toEqual([1, chainBroken("out/bent.trail")]);
    const piped = await runCli(["replay", "-", "--format", "raw"], { cwd: dir, stdin: t });
    expect([piped.code, piped.stderr]).toEqual([1, chainBroken("<stdin>")]);
  });

  it("stdout closed early (EPIPE, as `| head` does) is an I/O error, not an uncaught stack trace", async () => {
    // The first write fails as a closed pipe does; the stream then emits 'error'.
    const stdout = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
      },
    });
    const stderr = new PassThrough();
    const err: Buffer[] = [];
    stderr.on("data", (c: Buffer) => err.push(c));
    const code = await run(["replay", out("s.trail"), "--format", "raw"], {
      stdin: Readable.from([]),
      stdout,
      stderr,
      env: {},
      cwd: dir,
      stderrIsTTY: false,
      stdoutIsTTY: false,
      now: () => new Date(),
    });
    expect(code).toBe(2);
    expect(Buffer.concat(err).toString()).toBe(
      "trailseal: error: cannot write <stdout>: it was closed early (EPIPE)\n",
    );
  });

  it("-o /dev/null needs no --force and stays a device", async () => {
    const r = await runCli(["replay", out("s.trail"), "--format", "raw", "-o", "/dev/null"], {
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(statSync("/dev/null").isCharacterDevice()).toBe(true);
  });

  it("-o FIFO is written through the pipe, not replaced by a regular file", async () => {
    const fifo = out("pipe");
    execFileSync("mkfifo", [fifo]);
    const reader = spawn("cat", [fifo]);
    const got: Buffer[] = [];
    reader.stdout.on("data", (c: Buffer) => got.push(c));
    const closed = new Promise((r) => reader.on("close", r));
    const r = await runCli(["replay", out("s.trail"), "--format", "raw", "-o", fifo], {
      cwd: dir,
    });
    if (r.code !== 0) reader.kill(); // nobody will open the pipe for writing
    await closed;
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.concat(got).toString()).toBe(SCREEN);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it("--force onto a symbolic link replaces the file it names and keeps the link", async () => {
    writeFileSync(out("real.raw"), "old");
    symlinkSync(out("real.raw"), out("link.raw"));
    const r = await runCli(
      ["replay", out("s.trail"), "--format", "raw", "-o", out("link.raw"), "--force"],
      { cwd: dir },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(out("link.raw")).isSymbolicLink()).toBe(true);
    expect(readFileSync(out("real.raw"), "utf8")).toBe(SCREEN);
  });

  it("replay --ca checks every checkpoint signature first; without it a signed trail gets a notice", async () => {
    const pki = (n: string) => join(TESTDATA, "pki", n);
    writeFileSync(p("s.cast"), CAST);
    await ok([
      "policy",
      "create",
      "--name",
      "sig",
      "--sign-identity",
      "signer",
      "-o",
      p("sig.json"),
    ]);
    await ok([
      "seal",
      "--policy",
      p("sig.json"),
      "--sign-cert",
      pki("signer-rsa-chain.pem"),
      "--sign-key",
      pki("signer-rsa.key"),
      p("s.cast"),
      "-o",
      p("sig.trail"),
    ]);
    const checked = await runCli(
      ["replay", p("sig.trail"), "--format", "raw", "--ca", pki("root-ca.pem")],
      { cwd: dir },
    );
    expect([checked.code, checked.stdout, checked.stderr]).toEqual([0, SCREEN, ""]);
    const unchecked = await runCli(["replay", p("sig.trail"), "--format", "raw"], { cwd: dir });
    expect([unchecked.code, unchecked.stdout]).toEqual([0, SCREEN]);
    expect(unchecked.stderr).toBe(
      `trailseal: notice: the checkpoint signatures of ${p("sig.trail")} were not checked (only its chain); pass --ca FILE to check them, or run 'trailseal verify'\n`,
    );
    const foreign = await runCli(
      ["replay", p("sig.trail"), "--format", "raw", "--ca", pki("foreign-root-ca.pem")],
      { cwd: dir },
    );
    expect(foreign.code).toBe(1);
    expect(foreign.stdout).toBe("");
    // The reason names the chain that stops short of the foreign root; only the time is the clock's.
    const signer = '"C=XX, O=trailseal test, CN=trailseal test signer RSA"';
    const [head, tail] = foreign.stderr.split(
      / is not trusted at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: /,
    );
    expect(head).toBe(
      `trailseal: error: ${p("sig.trail")}: signatures do not verify: checkpoint 1 (record 10): certificate ${signer} (sha256:e44ccca93c6c7a11f3d5461287bc9e3fdeaeb47a6761089d1792a9effab08c43)`,
    );
    expect(tail).toBe(
      'no path to a trust anchor: the issuer "C=XX, O=trailseal test, CN=trailseal test root CA" of "C=XX, O=trailseal test, CN=trailseal test intermediate CA" is neither a trust anchor nor among the 1 included certificate(s)\n' +
        "trailseal: hint: run 'trailseal verify' for the full verdict\n",
    );
    // A forged final signature: refused before anything is shown.
    const bytes = readFileSync(p("sig.trail"));
    bytes[bytes.length - 1]! ^= 0x01;
    writeFileSync(p("sig-bad.trail"), bytes);
    const forged = await runCli(
      ["replay", p("sig-bad.trail"), "--format", "raw", "--ca", pki("root-ca.pem")],
      { cwd: dir },
    );
    expect([forged.code, forged.stdout]).toEqual([1, ""]);
    expect(forged.stderr).toBe(
      `trailseal: error: ${p("sig-bad.trail")}: signatures do not verify: checkpoint 1 (record 10): signature invalid: the signature over the signed attributes does not verify with the key of ${signer}\n` +
        "trailseal: hint: run 'trailseal verify' for the full verdict\n",
    );
  });

  it("replay refuses to write over the trail it reads", async () => {
    writeFileSync(p("s.cast"), CAST);
    await ok(["policy", "create", "--name", "clear", "-o", p("self.json")]);
    await ok(["seal", "--policy", p("self.json"), p("s.cast"), "-o", p("self.trail")]);
    const before = readFileSync(p("self.trail"));
    const r = await runCli(
      ["replay", p("self.trail"), "--format", "raw", "-o", p("self.trail"), "--force"],
      { cwd: dir },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `trailseal: error: the output ${p("self.trail")} is the trail being replayed\ntrailseal: hint: write the replay to another file\n`,
    );
    expect(readFileSync(p("self.trail"))).toEqual(before);
  });

  it("seal refuses a signing certificate outside its validity (its signatures would never verify)", async () => {
    const pki = (n: string) => join(TESTDATA, "pki", n);
    writeFileSync(p("s.cast"), CAST);
    await ok([
      "policy",
      "create",
      "--name",
      "exp",
      "--sign-identity",
      "signer",
      "-o",
      p("exp.json"),
    ]);
    const r = await runCli(
      [
        "seal",
        "--policy",
        p("exp.json"),
        "--sign-cert",
        pki("signer-expired-chain.pem"),
        "--sign-key",
        pki("signer-expired.key"),
        p("s.cast"),
        "-o",
        p("exp.trail"),
      ],
      { cwd: dir },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `trailseal: error: the signing certificate in ${pki("signer-expired-chain.pem")} (C=XX, O=trailseal test, CN=trailseal test signer expired) is not valid now (valid 2020-01-01T00:00:00.000Z to 2021-01-01T00:00:00.000Z); its signatures would not verify\n` +
        "trailseal: hint: renew the signing certificate ('trailseal init --force' makes a new local one)\n",
    );
    expect(existsSync(p("exp.trail"))).toBe(false);
  });

  it("export --force replaces an earlier export's files, and only those", async () => {
    writeFileSync(p("s.cast"), CAST);
    await ok(["policy", "create", "--name", "clear", "-o", p("ex.json")]);
    await ok(["seal", "--policy", p("ex.json"), p("s.cast"), "-o", p("ex.trail")]);
    await ok(["export", p("ex.trail"), p("ex-dir")]);
    writeFileSync(p("ex-dir/checkpoint-099.txt"), "stale");
    writeFileSync(p("ex-dir/notes.txt"), "mine");
    const again = await runCli(["export", p("ex.trail"), p("ex-dir")], { cwd: dir });
    expect([again.code, again.stdout]).toEqual([2, ""]);
    expect(again.stderr).toBe(
      `trailseal: error: ${p("ex-dir")} is not empty\ntrailseal: hint: choose a new directory or pass --force\n`,
    );
    await ok(["export", p("ex.trail"), p("ex-dir"), "--force"]);
    expect(existsSync(p("ex-dir/checkpoint-099.txt"))).toBe(false);
    expect(readFileSync(p("ex-dir/notes.txt"), "utf8")).toBe("mine");
    expect(existsSync(p("ex-dir/VERIFY.txt"))).toBe(true);
  });
});
