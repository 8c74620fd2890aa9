/**
 * `trailseal scan` with keys on SoftHSM2 tokens (`--key pkcs11:…`, `--pkcs11-module`, `--pin`),
 * as replay takes them: the real recording of testdata/recordings/scan sealed to the keys of two
 * tokens (downstream, upstream) gives exactly the hits the key files give; several trails with
 * --jobs are scanned in this thread (a token session cannot go to a worker), with the same
 * report; a token for the downstream alone reads the commands from the screen.
 */
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TESTDATA } from "./helpers/fixtures.js";
import { runCli } from "./helpers/io.js";
import { readHit, sealRecording } from "./helpers/scan-recording.js";
import {
  makeHsm,
  oaepFallbackNotice,
  softhsmMissing,
  SOFTHSM_MODULE,
  type Hsm,
} from "./helpers/softhsm.js";

const certs = (n: string) => join(TESTDATA, "certs", n);
const pki = (n: string) => join(TESTDATA, "pki", n);
const CA = ["--ca", pki("root-ca.pem")];
const RULE = ["--command", "^read ", "--command", "s3cret"];

/** The hits of the recording under RULE with both channels open (as the key files give them). */
const HITS = [
  ...readHit("rule 0 of ad-hoc", "keystrokes", "none"),
  "s.trail: rule 1 of ad-hoc (command, from the keystrokes) at 15.662s, record 75 (upstream), checkpoint 2: verified",
  "  matched: s3cret",
  "  in:      s3cret-pass",
  "  actions: none",
  "s.trail: 2 hits; 147 records, 147 under a verified checkpoint (complete); 4 card numbers on the screen; commands from the keystrokes",
];

const missing = softhsmMissing();
if (missing !== null) console.warn(`scan with SoftHSM2 token keys skipped: ${missing}`);

describe.skipIf(missing !== null)("trailseal scan with keys on SoftHSM2 tokens", () => {
  let hsm: Hsm;
  const p = (n: string) => join(hsm.dir, n);
  const uri = (token: string) => `pkcs11:token=${token};object=audit;type=private`;
  const withPin = (token: string) => `${uri(token)}?pin-source=file:${p(`${token}.pin`)}`;
  const scan = (args: readonly string[], env: Record<string, string> = {}) =>
    runCli(["scan", ...args], { cwd: hsm.dir, env: { ...env } });
  const fallback = oaepFallbackNotice;

  beforeAll(async () => {
    hsm = makeHsm();
    hsm.use();
    const tokens = [
      ["screen", "1111", "rsa2048-a", "01"],
      ["keys", "2222", "rsa2048-c", "02"],
    ] as const;
    for (const [token, pin, key, id] of tokens)
      hsm.tokenWithKey(token, pin, {
        keyPem: readFileSync(certs(`${key}.key`), "utf8"),
        id,
        label: "audit",
      });
    await sealRecording(hsm.dir);
    mkdirSync(p("archive"));
    copyFileSync(p("s.trail"), p("archive/a.trail"));
    copyFileSync(p("s.trail"), p("archive/b.trail"));
  });
  afterAll(() => hsm.remove());

  it("the key files' hits, exactly, from the two tokens (module and PIN by flag and URI)", async () => {
    const files = await scan([
      ...["s.trail", ...RULE, "--key", certs("rsa2048-a.key")],
      ...["--key", certs("rsa2048-c.key"), ...CA],
    ]);
    expect([files.code, files.stderr, files.stdout]).toEqual([1, "", `${HITS.join("\n")}\n`]);
    const r = await scan(
      [
        ...["s.trail", ...RULE, "--pkcs11-module", SOFTHSM_MODULE],
        ...["--key", uri("screen"), "--pin", "env:PIN", "--key", withPin("keys"), ...CA],
      ],
      { PIN: "1111" },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(files.stdout);
    expect(r.stderr).toBe(fallback("screen") + fallback("keys"));
  });

  it("many trails with --jobs 2 and token keys: scanned in this thread, the same hits in input order", async () => {
    const r = await scan(
      ["archive", "--jobs", "2", ...RULE, "--key", withPin("screen"), "--key", withPin("keys")]
        .concat(CA)
        .concat(["--jsonl"]),
      { TRAILSEAL_PKCS11_MODULE: SOFTHSM_MODULE },
    );
    expect(r.code).toBe(1);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // In this thread the trails finish one after the other, in the order they were listed.
    expect(lines.map((l) => [l["type"], l["key"] ?? null])).toEqual([
      ["scan", "a.trail"],
      ["scan", "b.trail"],
      ["summary", null],
    ]);
    const hits = (l: Record<string, unknown>) =>
      (l["hits"] as { record: number; text: string; source: string; verified: boolean }[]).map(
        (h) => [h.record, h.text, h.source, h.verified],
      );
    const expected = [
      [72, "read ", "keystrokes", true],
      [75, "s3cret", "keystrokes", true],
    ];
    expect([hits(lines[0]!), hits(lines[1]!)]).toEqual([expected, expected]);
    expect(lines[2]).toMatchObject({ trails: 2, trailsWithHits: 2, hits: 4, unreadable: 0 });
    expect(r.stderr).toBe(
      "trailseal: summary: 2 trails: 4 hits (0 not verified) in 2, 0 unreadable\n" +
        fallback("screen") +
        fallback("keys"),
    );
  });

  it("the downstream token alone: commands from the screen, said in the report", async () => {
    const r = await scan(["s.trail", ...RULE, "--key", withPin("screen"), ...CA], {
      TRAILSEAL_PKCS11_MODULE: SOFTHSM_MODULE,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      [
        ...readHit("rule 0 of ad-hoc", "screen", "none"),
        "s.trail: 1 hit; 147 records, 147 under a verified checkpoint (complete); 4 card numbers on the screen; commands from the screen",
        "  note: the keystrokes (upstream) are hidden: commands were read from the echoed lines on the screen, so commands typed with echo off are missed",
        "",
      ].join("\n"),
    );
    expect(r.stderr).toBe(fallback("screen"));
  });
});
