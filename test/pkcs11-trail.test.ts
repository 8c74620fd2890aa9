/**
 * Token keys in the trail commands, on SoftHSM2: a trail sealed to certificates exported from
 * alice's, bob's and the officer's tokens (four-eyes downstream, the officer's upstream) and
 * opened with the token keys by replay, verify and share; one token alone refused by name; and
 * split knowledge: bob opens the outer layer alone on his token ('unwrap'), alice's token opens
 * the inner envelope ('replay --inner'), and openssl opens it with alice's key file.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spkiFingerprint } from "../src/pem.js";
import { runCli } from "./helpers/io.js";
import { certDer, TESTDATA } from "./helpers/fixtures.js";
import {
  makeHsm,
  oaepFallbackNotice,
  softhsmMissing,
  SOFTHSM_MODULE,
  type Hsm,
} from "./helpers/softhsm.js";

const certs = (n: string) => join(TESTDATA, "certs", n);
const text = (n: string) => readFileSync(certs(n), "utf8");

const CAST = [
  JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1764000000, command: "bash" }),
  JSON.stringify([0.1, "o", "$ "]),
  JSON.stringify([0.5, "i", "sudo -i\r"]),
  JSON.stringify([0.6, "o", "sudo -i\r\n[sudo] password for admin: "]),
  JSON.stringify([1.5, "i", "hunter2\r"]),
  JSON.stringify([1.7, "o", "\r\n# "]),
  "",
].join("\n");
const SCREEN = "$ sudo -i\r\n[sudo] password for admin: \r\n# ";

const missing = softhsmMissing();
if (missing !== null) console.warn(`pkcs11 trail tests on SoftHSM2 skipped: ${missing}`);

describe.skipIf(missing !== null)("trails opened with keys on SoftHSM2 tokens", () => {
  let hsm: Hsm;
  const p = (n: string) => join(hsm.dir, n);
  /** The token key's URI, with its PIN read from a file (each token has its own PIN). */
  const uri = (token: string) => `pkcs11:token=${token};object=audit;type=private`;
  const withPin = (token: string) => `${uri(token)}?pin-source=file:${p(`${token}.pin`)}`;
  const env = () => ({ TRAILSEAL_PKCS11_MODULE: SOFTHSM_MODULE });
  const cli = (argv: string[]) => runCli(argv, { cwd: hsm.dir, env: env() });
  /** The fingerprint and subject replay names a recipient by. */
  const who = (name: string) =>
    `sha256:${spkiFingerprint(readFileSync(p(`${name}.der`)))} (O=trailseal tests, CN=trailseal test recipient ${name === "alice" ? "rsa2048-a" : name === "bob" ? "ec-p256-a" : "rsa2048-c"})`;
  const fallback = oaepFallbackNotice;

  beforeAll(async () => {
    hsm = makeHsm();
    hsm.use();
    const tokens = [
      ["alice", "1111", "rsa2048-a", "01"],
      ["bob", "2222", "ec-p256-a", "02"],
      ["officer", "3333", "rsa2048-c", "03"],
    ] as const;
    for (const [token, pin, key, id] of tokens) {
      hsm.tokenWithKey(token, pin, {
        keyPem: text(`${key}.key`),
        certPem: text(`${key}.crt`),
        id,
        label: "audit",
      });
      // The recipients' certificates as an auditor gets them: read back from the token.
      const der = hsm.readCert(token, id);
      expect(Buffer.from(der).equals(Buffer.from(certDer(`certs/${key}.crt`))), token).toBe(true);
      writeFileSync(p(`${token}.der`), der);
    }
    writeFileSync(p("s.cast"), CAST);
    const policy = await cli(
      ["policy", "create", "--name", "t", "--encrypt", `${p("alice.der")},${p("bob.der")}`].concat([
        "--upstream",
        p("officer.der"),
        "-o",
        p("policy.json"),
      ]),
    );
    expect([policy.code, policy.stderr]).toEqual([
      0,
      `trailseal: warning: encryption.certificates[0].four_eyes_certificate: an EC P-256 key (sha256:${spkiFingerprint(readFileSync(p("bob.der")))}): SPS encrypts only to RSA keys; trailseal also takes EC\n`,
    ]);
    const r = await cli(["seal", "--policy", p("policy.json"), p("s.cast"), "-o", p("s.trail")]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
  });
  afterAll(() => hsm.remove());

  it("replay with alice's, bob's and the officer's tokens gives exactly the recorded events", async () => {
    const r = await cli(
      ["replay", p("s.trail"), "--format", "jsonl"].concat([
        "--key",
        withPin("alice"),
        "--key",
        withPin("bob"),
        "--key",
        withPin("officer"),
      ]),
    );
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { t: number; type: string; data: string })
      .filter((e) => e.type !== "metadata");
    expect(events.map((e) => [e.t, e.type, e.data])).toEqual([
      [0.1, "output", "$ "],
      [0.5, "input", "sudo -i\r"],
      [0.6, "output", "sudo -i\r\n[sudo] password for admin: "],
      [1.5, "input", "hunter2\r"],
      [1.7, "output", "\r\n# "],
    ]);
    expect(r.stderr).toBe(fallback("alice") + fallback("officer"));
  });

  it("one token alone is refused, naming the fingerprint still missing", async () => {
    const alone = await runCli(
      ["replay", p("s.trail"), "--key", uri("alice"), "--pin", "env:PIN"],
      {
        cwd: hsm.dir,
        env: { ...env(), PIN: "1111" },
      },
    );
    expect(alone.code).toBe(1);
    expect(alone.stdout).toBe("");
    expect(alone.stderr).toBe(
      `trailseal: error: no key given opens the downstream channel (the screen) of ${p("s.trail")}; any one of these would:\n` +
        `  entry 0: four-eyes: both ${who("bob")} and ${who("alice")}\n` +
        "and for the upstream channel (keystrokes), any one of:\n" +
        `  entry 0: ${who("officer")}\n` +
        `entry 0 (downstream) is missing the key of ${who("bob")}\n` +
        `the keys given: ${who("alice").replace(/ \(.*/, "")} (${uri("alice")})\n` +
        "trailseal: hint: a four-eyes entry needs both keys: repeat --key\n",
    );
  });

  it("without the officer's token the upstream is hidden, with the notice naming it", async () => {
    const r = await cli(
      ["replay", p("s.trail"), "--format", "raw", "--key", withPin("alice")].concat([
        "--key",
        withPin("bob"),
      ]),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(SCREEN);
    expect(r.stderr).toBe(
      "trailseal: notice: the keystrokes (upstream) are hidden: no key given opens them; any one of these would:\n" +
        `  entry 0: ${who("officer")}\n` +
        fallback("alice"),
    );
  });

  it("verify decrypts every frame with the token keys; share adds a file recipient with them", async () => {
    const keys = ["--key", withPin("alice"), "--key", withPin("bob"), "--key", withPin("officer")];
    const v = await cli(["verify", p("s.trail"), "--json", ...keys]);
    expect(v.code).toBe(0);
    const [verdict] = JSON.parse(v.stdout) as [
      {
        downstream: { state: string; decrypted: number; frames: number };
        upstream: { state: string; decrypted: number; frames: number };
      },
    ];
    expect([verdict.downstream.state, verdict.downstream.decrypted]).toEqual(["opened", 4]);
    expect([verdict.upstream.state, verdict.upstream.decrypted]).toEqual(["opened", 3]);
    const s = await cli([
      "share",
      p("s.trail"),
      "--to",
      certs("rsa2048-d.crt"),
      "-o",
      p("d.trail"),
      ...keys,
    ]);
    expect([s.code, s.stdout]).toEqual([0, `added 2 stanzas; wrote ${p("d.trail")}\n`]);
    const r = await cli([
      "replay",
      p("d.trail"),
      "--format",
      "raw",
      "--key",
      certs("rsa2048-d.key"),
    ]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, SCREEN, ""]);
  });

  it("split knowledge: bob unwraps the outer layer on his token, alice's token opens the inner envelope", async () => {
    expect((await cli(["export", p("s.trail"), p("ev")])).code).toBe(0);
    const stanza = p("ev/stanza-downstream-0.der");
    const u = await cli(["unwrap", stanza, "--key", withPin("bob"), "-o", p("inner.cms")]);
    expect([u.code, u.stderr]).toEqual([0, ""]);
    expect(u.stdout).toBe(
      `opened the layer for ${who("bob").replace(/ \(.*/, "")}; wrote the inner envelope to ${p("inner.cms")}\n`,
    );
    expect(statSync(p("inner.cms")).mode & 0o777).toBe(0o600);

    // The inner envelope is standard CMS: openssl opens it with alice's key file, to the file
    // key the header commits to.
    const fileKey = execFileSync("openssl", [
      "cms",
      "-decrypt",
      "-binary",
      "-inform",
      "DER",
      "-in",
      p("inner.cms"),
      "-inkey",
      certs("rsa2048-a.key"),
    ]);
    const header = JSON.parse(readFileSync(p("ev/header.json"), "utf8")) as {
      channels: { downstream: { commitment: string } };
    };
    expect(
      createHmac("sha256", fileKey).update("trailseal/1 key commitment downstream").digest("hex"),
    ).toBe(header.channels.downstream.commitment);

    // Alice never holds bob's key: her token and the handed envelope replay the screen.
    const r = await cli(
      ["replay", p("s.trail"), "--format", "raw", "--inner", p("inner.cms")].concat([
        "--key",
        withPin("alice"),
      ]),
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(SCREEN);
    expect(r.stderr).toBe(
      "trailseal: notice: the keystrokes (upstream) are hidden: no key given opens them; any one of these would:\n" +
        `  entry 0: ${who("officer")}\n` +
        fallback("alice"),
    );
  });

  it("unwrap refuses the wrong key and the innermost layer; replay --inner refuses a key it is not for", async () => {
    const stanza = p("ev/stanza-downstream-0.der");
    const wrong = await cli(["unwrap", stanza, "--key", withPin("alice"), "-o", p("x.cms")]);
    expect(wrong).toMatchObject({ code: 1, stdout: "" });
    expect(wrong.stderr).toBe(
      `trailseal: error: key ${who("alice").replace(/ \(.*/, "")} does not open this envelope: no recipient in the stanza takes a key of type rsa\n` +
        "trailseal: hint: give the private key of the certificate the outer layer was made for\n",
    );
    const inner = await cli(["unwrap", p("inner.cms"), "--key", withPin("alice"), "-o", p("k")]);
    expect(inner).toMatchObject({ code: 2, stdout: "" });
    expect(inner.stderr).toBe(
      `trailseal: error: ${p("inner.cms")} is the innermost layer: it holds a file key, which unwrap does not write out\n` +
        `trailseal: hint: open the trail with it: trailseal replay TRAIL --inner ${p("inner.cms")} --key …\n` +
        fallback("alice"),
    );
    expect(spawnSync("test", ["-e", p("k")]).status).toBe(1);
    const r = await cli([
      "replay",
      p("s.trail"),
      "--inner",
      p("inner.cms"),
      "--key",
      withPin("officer"),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `trailseal: error: ${p("s.trail")}: ${p("inner.cms")} opens with none of the keys given (${who("officer").replace(/ \(.*/, "")})\n` +
        "trailseal: hint: give the private key of the inner layer's certificate\n" +
        // The officer's key opened the upstream stanza before the handed envelope was tried.
        fallback("officer"),
    );
  });
});
