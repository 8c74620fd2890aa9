/**
 * `trailseal keys list` on SoftHSM2 tokens: the whole human output and the JSON, without a PIN
 * (public objects) and with one (private keys too), and the errors a user meets first.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PassThrough, Readable } from "node:stream";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../src/cli/keys.js";
import type { Io } from "../src/cli/io.js";
import { spkiFingerprint } from "../src/pem.js";
import { makeHsm, softhsmMissing, SOFTHSM_MODULE, type Hsm } from "./helpers/softhsm.js";

const CERTS = fileURLToPath(new URL("../testdata/certs/", import.meta.url));
const text = (name: string): string => readFileSync(join(CERTS, name), "utf8");
const fingerprint = (name: string): string =>
  spkiFingerprint(new Uint8Array(new X509Certificate(text(`${name}.crt`)).raw));

async function keys(
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  const io: Io = {
    stdin: Readable.from([]),
    stdout,
    stderr,
    env,
    cwd: process.cwd(),
    stderrIsTTY: false,
    stdoutIsTTY: false,
    now: () => new Date(),
  };
  const code = await run(argv, io);
  await new Promise((r) => setImmediate(r));
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

describe("keys", () => {
  it("without a module says where the module comes from", async () => {
    expect(await keys(["list"])).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "trailseal: error: no pkcs11 module is named for the token key\n" +
        "trailseal: hint: name the PKCS#11 module with module-path= in the URI, --pkcs11-module FILE or TRAILSEAL_PKCS11_MODULE\n",
    });
    expect(await keys(["lst"])).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "trailseal: error: unknown subcommand 'lst'\n" +
        "trailseal: hint: trailseal keys list --pkcs11-module /usr/lib/softhsm/libsofthsm2.so\n",
    });
  });
});

const missing = softhsmMissing();
if (missing !== null) console.warn(`keys list tests on SoftHSM2 skipped: ${missing}`);

describe.skipIf(missing !== null)("keys list on SoftHSM2", () => {
  let hsm: Hsm;
  const slots: Record<string, { slotId: string; serial: string }> = {};

  beforeAll(async () => {
    hsm = makeHsm();
    hsm.use();
    hsm.initToken("alice", "1111", "alice-so");
    hsm.initToken("bob", "2222", "bob-so");
    hsm.importKey("alice", "1111", {
      keyPem: text("rsa2048-a.key"),
      certPem: text("rsa2048-a.crt"),
      id: "01",
      label: "audit",
    });
    hsm.importKey("bob", "2222", {
      keyPem: text("ec-p256-a.key"),
      id: "02",
      label: "audit",
      publicKey: false,
    });
    const r = await keys(["list", "--json", "--pkcs11-module", SOFTHSM_MODULE]);
    for (const t of (
      JSON.parse(r.stdout) as { tokens: { label: string; slotId: string; serial: string }[] }
    ).tokens)
      slots[t.label] = { slotId: t.slotId, serial: t.serial };
  });
  afterAll(() => hsm.remove());

  const head = `pkcs11 module ${SOFTHSM_MODULE}: Implementation of PKCS11 2.6 (SoftHSM)\n`;
  const token = (label: string, state: string) =>
    `token "${label}": slot ${slots[label]!.slotId}, serial ${slots[label]!.serial}, SoftHSM project SoftHSM v2; ${state}\n`;
  const uri = (label: string, rest: string) =>
    `pkcs11:token=${label};serial=${slots[label]!.serial};${rest}`;

  it("without a PIN shows each token's public objects, with fingerprints and URIs", async () => {
    const r = await keys(["list", "--pkcs11-module", SOFTHSM_MODULE]);
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout:
        head +
        token("alice", "not logged in (give --pin to see private keys)") +
        '  public key "audit", id 01: RSA 2048\n' +
        `    sha256:${fingerprint("rsa2048-a")}\n` +
        `    ${uri("alice", "object=audit;id=%01;type=public")}\n` +
        '  certificate "audit", id 01: O=trailseal tests, CN=trailseal test recipient rsa2048-a (RSA 2048)\n' +
        `    sha256:${fingerprint("rsa2048-a")}\n` +
        `    ${uri("alice", "object=audit;id=%01;type=cert")}\n` +
        token("bob", "not logged in (give --pin to see private keys)") +
        "  (no keys or certificates)\n",
    });
  });

  it("with a PIN for one token shows its private keys; one with no public key or certificate has no fingerprint", async () => {
    const pinFile = join(hsm.dir, "bob.pin");
    writeFileSync(pinFile, "2222\n");
    const r = await keys([
      "list",
      "pkcs11:token=bob",
      "--pin",
      `file:${pinFile}`,
      "--pkcs11-module",
      SOFTHSM_MODULE,
    ]);
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout:
        head +
        token("bob", "logged in") +
        '  private key "audit", id 02: EC P-256\n' +
        "    no public key on the token\n" +
        `    ${uri("bob", "object=audit;id=%02;type=private")}\n`,
    });
  });

  it("--json with a PIN: the private key, its public key folded in, and the certificate", async () => {
    const r = await keys(["list", "pkcs11:token=alice", "--json", "--pin", "env:PIN"], {
      PIN: "1111",
      TRAILSEAL_PKCS11_MODULE: SOFTHSM_MODULE,
    });
    expect(r.code).toBe(0);
    const fp = fingerprint("rsa2048-a");
    expect(JSON.parse(r.stdout)).toEqual({
      module: {
        path: SOFTHSM_MODULE,
        manufacturer: "SoftHSM",
        description: "Implementation of PKCS11",
        version: "2.6",
      },
      tokens: [
        {
          label: "alice",
          serial: slots["alice"]!.serial,
          manufacturer: "SoftHSM project",
          model: "SoftHSM v2",
          slotId: slots["alice"]!.slotId,
          slotDescription: "SoftHSM slot ID 0x" + BigInt(slots["alice"]!.slotId).toString(16),
          loggedIn: true,
          objects: [
            {
              kind: "private-key",
              label: "audit",
              id: "01",
              keyType: "RSA",
              bits: 2048,
              curve: null,
              subject: null,
              spkiFingerprint: fp,
              uri: uri("alice", "object=audit;id=%01;type=private"),
            },
            {
              kind: "certificate",
              label: "audit",
              id: "01",
              keyType: "RSA",
              bits: 2048,
              curve: null,
              subject: "O=trailseal tests, CN=trailseal test recipient rsa2048-a",
              spkiFingerprint: fp,
              uri: uri("alice", "object=audit;id=%01;type=cert"),
            },
          ],
        },
      ],
    });
  });

  it("a PIN with several tokens, a wrong PIN and an unknown token are refused by name", async () => {
    expect(
      await keys(["list", "--pin", "env:PIN"], {
        PIN: "1111",
        TRAILSEAL_PKCS11_MODULE: SOFTHSM_MODULE,
      }),
    ).toEqual({
      code: 2,
      stdout: "",
      stderr: `trailseal: error: a pin is for one token, and module ${SOFTHSM_MODULE} has 2; name the token with a pkcs11 uri (pkcs11:token=LABEL)\n`,
    });
    const wrong = await keys(["list", "pkcs11:token=alice", "--pin", "env:PIN"], {
      PIN: "0000",
      TRAILSEAL_PKCS11_MODULE: SOFTHSM_MODULE,
    });
    expect(wrong).toEqual({
      code: 2,
      stdout: "",
      stderr: 'trailseal: error: wrong pin for token "alice"; the token says few tries are left\n',
    });
    const none = await keys(["list", "pkcs11:token=carol"], {
      TRAILSEAL_PKCS11_MODULE: SOFTHSM_MODULE,
    });
    expect(none).toEqual({
      code: 2,
      stdout: "",
      stderr: `trailseal: error: no token matches pkcs11:token=carol; module ${SOFTHSM_MODULE} has tokens "alice" (slot ${slots["alice"]!.slotId}, serial ${slots["alice"]!.serial}), "bob" (slot ${slots["bob"]!.slotId}, serial ${slots["bob"]!.serial})\n`,
    });
  });
});
