/**
 * Stanzas against the openssl 3 CLI, both ways: `openssl cms -decrypt` opens what makeStanza
 * writes (two chained commands for four-eyes), and openLayer opens what `openssl cms -encrypt`
 * writes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
} from "node:crypto";
import { fileURLToPath } from "node:url";
import {
  makeStanza,
  openLayer,
  openStanza,
  parseStanzaDer,
  type StanzaKey,
} from "../src/recipients.js";
import { TrailsealError } from "../src/errors.js";

const CERTS = fileURLToPath(new URL("../testdata/certs/", import.meta.url));
const crt = (name: string): string => join(CERTS, `${name}.crt`);
const pem = (name: string): string => join(CERTS, `${name}.key`);

function cert(name: string): Uint8Array {
  return new Uint8Array(new X509Certificate(readFileSync(crt(name))).raw);
}

function key(name: string): StanzaKey {
  const k = createPrivateKey(readFileSync(pem(name)));
  const spki = createPublicKey(k).export({ format: "der", type: "spki" });
  return { key: k, spkiFingerprint: createHash("sha256").update(spki).digest("hex") };
}

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "trailseal-recipients-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function openssl(args: string[], input?: Uint8Array): Uint8Array {
  return new Uint8Array(
    execFileSync("openssl", args, {
      ...(input === undefined ? {} : { input }),
      stdio: ["pipe", "pipe", "pipe"],
    }),
  );
}

/** `openssl cms -decrypt` of one envelope with one key and its certificate. */
function opensslDecrypt(der: Uint8Array, name: string): Uint8Array {
  const file = join(dir, `in-${randomBytes(4).toString("hex")}.der`);
  writeFileSync(file, der);
  return openssl([
    "cms",
    "-decrypt",
    "-inform",
    "DER",
    "-in",
    file,
    "-inkey",
    pem(name),
    "-recip",
    crt(name),
    "-binary",
  ]);
}

/** `openssl cms -encrypt` of `content` to the given recipients (each with its -keyopt list). */
function opensslEncrypt(content: Uint8Array, recipients: [string, string[]][]): Uint8Array {
  const file = join(dir, `msg-${randomBytes(4).toString("hex")}.bin`);
  writeFileSync(file, content);
  const args = ["cms", "-encrypt", "-binary", "-outform", "DER", "-aes-256-cbc", "-in", file];
  for (const [name, keyopts] of recipients) {
    args.push("-recip", crt(name));
    for (const opt of keyopts) args.push("-keyopt", opt);
  }
  return openssl(args);
}

const OAEP_SHA256 = ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256"];

const fileKey = new Uint8Array(randomBytes(32));

describe("openssl cms -decrypt opens our stanzas", () => {
  it.each(["rsa2048-a", "ec-p256-a", "ec-p384-a", "ec-p521-a"])("%s", async (name) => {
    const stanza = await makeStanza(fileKey, { certificate: cert(name), fourEyes: null });
    expect(opensslDecrypt(stanza.der, name)).toEqual(fileKey);
  });

  it.each([
    ["rsa2048-a", "ec-p256-a"],
    ["ec-p521-a", "rsa2048-b"],
  ])("four-eyes %s inside %s: two chained commands, outer then inner", async (inner, outer) => {
    const stanza = await makeStanza(fileKey, { certificate: cert(inner), fourEyes: cert(outer) });
    const handed = opensslDecrypt(stanza.der, outer);
    expect((await parseStanzaDer(handed)).kinds).toEqual([
      inner.startsWith("rsa") ? "ktri" : "kari",
    ]);
    expect(opensslDecrypt(handed, inner)).toEqual(fileKey);
    // The inner key alone cannot open the outer envelope.
    expect(() => opensslDecrypt(stanza.der, inner)).toThrow(
      /CMS_decrypt_set1_pkey_and_peer:no matching recipient/,
    );
  });

  it("openssl prints SHA-256 and MGF1-SHA-256 as the OAEP parameters", async () => {
    const stanza = await makeStanza(fileKey, { certificate: cert("rsa2048-a"), fourEyes: null });
    const file = join(dir, "oaep.der");
    writeFileSync(file, stanza.der);
    const text = Buffer.from(
      openssl(["cms", "-cmsout", "-print", "-inform", "DER", "-in", file]),
    ).toString();
    expect(text).toContain("algorithm: rsaesOaep (1.2.840.113549.1.1.7)");
    const params = text.slice(text.indexOf("rsaesOaep"), text.indexOf("encryptedKey"));
    // [0] hashFunc sha256, [1] maskGenFunc mgf1 with sha256; no sha1 anywhere.
    expect(params).toMatch(
      /cont \[ 0 \][\s\S]*OBJECT\s+:sha256[\s\S]*cont \[ 1 \][\s\S]*:mgf1[\s\S]*:sha256/,
    );
    expect(params).not.toMatch(/sha1|sha512/);
    expect(text).toContain("aes-256-cbc");
  });

  it("openssl prints the ECDH SHA-256 KDF scheme and AES-256 wrap", async () => {
    const stanza = await makeStanza(fileKey, { certificate: cert("ec-p384-a"), fourEyes: null });
    const file = join(dir, "kari.der");
    writeFileSync(file, stanza.der);
    const text = Buffer.from(
      openssl(["cms", "-cmsout", "-print", "-inform", "DER", "-in", file]),
    ).toString();
    expect(text).toContain("dhSinglePass-stdDH-sha256kdf-scheme (1.3.132.1.11.1)");
    expect(text).toContain(":id-aes256-wrap");
    expect(text).toContain("ukm: <ABSENT>");
  });
});

describe("openLayer opens envelopes made by openssl cms -encrypt", () => {
  const content = new Uint8Array(randomBytes(100));

  it("rsa-oaep sha-256 / mgf1 sha-256", async () => {
    const der = opensslEncrypt(content, [["rsa2048-a", OAEP_SHA256]]);
    expect(await parseStanzaDer(der)).toEqual({ recipientCount: 1, kinds: ["ktri"] });
    expect(await openLayer(der, key("rsa2048-a"))).toEqual(content);
  });

  it.each(["ec-p256-a", "ec-p384-a", "ec-p521-a"])(
    "%s with the sha-256 kdf (no ukm, which pkijs cannot open)",
    async (name) => {
      const der = opensslEncrypt(content, [[name, ["ecdh_kdf_md:sha256"]]]);
      expect(await parseStanzaDer(der)).toEqual({ recipientCount: 1, kinds: ["kari"] });
      expect(await openLayer(der, key(name))).toEqual(content);
    },
  );

  it("ec with openssl's default (sha-1) kdf", async () => {
    const der = opensslEncrypt(content, [["ec-p256-a", []]]);
    expect(await openLayer(der, key("ec-p256-a"))).toEqual(content);
  });

  it("an envelope with several recipients opens with each key", async () => {
    const der = opensslEncrypt(content, [
      ["rsa2048-a", OAEP_SHA256],
      ["ec-p384-a", ["ecdh_kdf_md:sha256"]],
      ["rsa2048-b", OAEP_SHA256],
    ]);
    // DER sorts the SET OF RecipientInfo, so only the multiset of kinds is fixed.
    const parsed = await parseStanzaDer(der);
    expect(parsed.recipientCount).toBe(3);
    expect([...parsed.kinds].sort()).toEqual(["kari", "ktri", "ktri"]);
    for (const name of ["rsa2048-a", "ec-p384-a", "rsa2048-b"]) {
      expect(await openLayer(der, key(name))).toEqual(content);
    }
    await expect(openLayer(der, key("rsa2048-c"))).rejects.toMatchObject({
      code: "NO_MATCHING_KEY",
    });
  });

  it("a four-eyes stanza built with two openssl commands opens with openStanza", async () => {
    const inner = opensslEncrypt(fileKey, [["ec-p256-a", ["ecdh_kdf_md:sha256"]]]);
    const outer = opensslEncrypt(inner, [["rsa2048-b", OAEP_SHA256]]);
    const ours = await makeStanza(fileKey, {
      certificate: cert("ec-p256-a"),
      fourEyes: cert("rsa2048-b"),
    });
    const stanza = { der: outer, layers: ours.layers };
    expect(await openStanza(stanza, [key("ec-p256-a"), key("rsa2048-b")])).toEqual(fileKey);
  });

  it("a pkcs1-v1_5 recipient next to an oaep one does not stop the oaep key", async () => {
    const der = opensslEncrypt(content, [
      ["rsa2048-a", []],
      ["rsa2048-b", OAEP_SHA256],
    ]);
    expect(await openLayer(der, key("rsa2048-b"))).toEqual(content);
  });

  it("rsaes-pkcs1-v1_5 key transport (openssl's default) is refused with STANZA_INVALID", async () => {
    const der = opensslEncrypt(content, [["rsa2048-a", []]]);
    const error = await openLayer(der, key("rsa2048-a")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrailsealError);
    expect(error).toMatchObject({
      code: "STANZA_INVALID",
      message: "stanza uses rsaes-pkcs1-v1_5 key transport; only rsaes-oaep is supported",
    });
  });
});
