/**
 * Keys on SoftHSM2 tokens: OAEP decryption, ECDH and signatures checked against openssl, and
 * every failure (wrong PIN, no such token or object, a mechanism the token lacks, a lost session,
 * no binding) with its whole message.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import {
  X509Certificate,
  constants,
  createPrivateKey,
  createPublicKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  verify,
} from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TrailsealError } from "../src/errors.js";
import { spkiFingerprint } from "../src/pem.js";
import { loadBinding } from "../src/pkcs11/binding.js";
import {
  ecdsaSignatureDer,
  oaepDecode,
  tokenDecryptionKey,
  tokenSigner,
} from "../src/pkcs11/ops.js";
import { loginError, openTokenKey, type TokenOptions } from "../src/pkcs11/token.js";
import { makeHsm, softhsmMissing, SOFTHSM_MODULE, type Hsm } from "./helpers/softhsm.js";

const CERTS = fileURLToPath(new URL("../testdata/certs/", import.meta.url));
const text = (name: string): string => readFileSync(join(CERTS, name), "utf8");
const certDer = (name: string): Uint8Array =>
  new Uint8Array(new X509Certificate(readFileSync(join(CERTS, `${name}.crt`))).raw);

async function failure(p: Promise<unknown> | (() => unknown)): Promise<TrailsealError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (e instanceof TrailsealError) return e;
    throw e;
  }
  throw new Error("expected a TrailsealError");
}

describe("software parts", () => {
  it("oaepDecode undoes RSAES-OAEP SHA-256 padding of a raw RSA decryption, and refuses bad padding alike", () => {
    const key = createPrivateKey(text("rsa2048-a.key"));
    const message = randomBytes(32);
    const ct = publicEncrypt(
      { key: createPublicKey(key), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      message,
    );
    const em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, ct);
    expect(Buffer.from(oaepDecode(em, 256)!)).toEqual(message);
    for (const i of [0, 1, 40, 255]) {
      const bad = Buffer.from(em);
      bad[i]! ^= 1;
      expect(oaepDecode(bad, 256)).toBeNull();
    }
    expect(oaepDecode(em.subarray(1), 256)).toBeNull();
  });

  it("ecdsaSignatureDer turns r || s into Ecdsa-Sig-Value, with sign bytes and stripped zeros", () => {
    const rs = Buffer.concat([Buffer.alloc(31, 0), Buffer.from([0x05]), Buffer.alloc(32, 0x80)]);
    expect(Buffer.from(ecdsaSignatureDer(rs)).toString("hex")).toBe(
      `3026020105022100${"80".repeat(32)}`,
    );
  });

  it("loginError names the token and what its flags say about the tries left", () => {
    const cases: [string, number, string, string][] = [
      ["CKR_PIN_INCORRECT", 0, "PKCS11_PIN_INCORRECT", 'wrong pin for token "alice"'],
      [
        "CKR_PIN_INCORRECT",
        0x10000,
        "PKCS11_PIN_INCORRECT",
        'wrong pin for token "alice"; the token says few tries are left',
      ],
      [
        "CKR_PIN_INCORRECT",
        0x30000,
        "PKCS11_PIN_INCORRECT",
        'wrong pin for token "alice"; one try is left before the pin locks',
      ],
      [
        "CKR_PIN_LOCKED",
        0x40000,
        "PKCS11_PIN_LOCKED",
        'the user pin of token "alice" is locked (too many wrong pins)',
      ],
      [
        "CKR_PIN_INCORRECT",
        0x40000,
        "PKCS11_PIN_LOCKED",
        'the user pin of token "alice" is locked (too many wrong pins)',
      ],
      ["CKR_PIN_EXPIRED", 0, "PKCS11_PIN_INCORRECT", 'the user pin of token "alice" expired'],
      ["CKR_GENERAL_ERROR", 0, "PKCS11_FAILED", 'login to token "alice" failed: CKR_GENERAL_ERROR'],
    ];
    for (const [ckr, flags, code, message] of cases) {
      const e = loginError("alice", ckr, flags);
      expect([e.code, e.message]).toEqual([code, message]);
    }
  });

  it("a binding that is not installed is PKCS11_UNAVAILABLE saying why", async () => {
    const notFound = Object.assign(new Error("Cannot find package 'pkcs11js'"), {
      code: "ERR_MODULE_NOT_FOUND",
    });
    const e = await failure(loadBinding(() => Promise.reject(notFound)));
    expect([e.code, e.message, e.hint]).toEqual([
      "PKCS11_UNAVAILABLE",
      "pkcs11 support is not installed: the optional package pkcs11js is missing (its native addon is left out where it cannot be built)",
      "reinstall trailseal where node-gyp can build native addons (python3, make and a C++ compiler)",
    ]);
    const broken = new Error("pkcs11.node: invalid ELF header\n  at ...");
    const e2 = await failure(loadBinding(() => Promise.reject(broken)));
    expect([e2.code, e2.message]).toEqual([
      "PKCS11_UNAVAILABLE",
      "pkcs11 support is installed but does not load: pkcs11js failed with: pkcs11.node: invalid ELF header",
    ]);
  });

  it("a token key without a module is PKCS11_MODULE, missing pkcs11-module", async () => {
    const e = await failure(openTokenKey("pkcs11:token=alice", { env: {} }));
    expect([e.code, e.message, e.details.missing]).toEqual([
      "PKCS11_MODULE",
      "no pkcs11 module is named for the token key",
      "pkcs11-module",
    ]);
  });
});

const missing = softhsmMissing();
if (missing !== null) console.warn(`pkcs11 tests on SoftHSM2 skipped: ${missing}`);

describe.skipIf(missing !== null)("keys on SoftHSM2 tokens", () => {
  let hsm: Hsm;
  const opts = (pin?: string): TokenOptions => ({
    module: SOFTHSM_MODULE,
    env: {},
    ...(pin === undefined ? {} : { pin }),
  });
  const tmp = (name: string, bytes: Uint8Array | string): string => {
    const file = join(hsm.dir, name);
    writeFileSync(file, bytes);
    return file;
  };
  const openssl = (args: string[]): Buffer => execFileSync("openssl", args, { stdio: "pipe" });

  beforeAll(() => {
    hsm = makeHsm();
    hsm.use();
    hsm.initToken("alice", "1111", "alice-so");
    hsm.initToken("bob", "2222", "bob-so");
    hsm.initToken("officer", "3333", "officer-so");
    const key = (name: string) => text(`${name}.key`);
    const cert = (name: string) => text(`${name}.crt`);
    hsm.importKey("alice", "1111", {
      keyPem: key("rsa2048-a"),
      certPem: cert("rsa2048-a"),
      id: "01",
      label: "audit",
    });
    hsm.importKey("bob", "2222", {
      keyPem: key("ec-p256-a"),
      certPem: cert("ec-p256-a"),
      id: "02",
      label: "audit",
    });
    hsm.importKey("officer", "3333", {
      keyPem: key("signer"),
      certPem: cert("signer"),
      id: "0a0b",
      label: "signing",
    });
    hsm.importKey("officer", "3333", { keyPem: key("ec-p384-a"), id: "0c", label: "signing ec" });
  });
  afterAll(() => hsm.remove());

  it("decrypts an RSA-OAEP SHA-256 encryptedKey made by openssl pkeyutl, naming the fallback", async () => {
    const fileKey = randomBytes(32);
    const ct = openssl([
      "pkeyutl",
      "-encrypt",
      "-certin",
      "-inkey",
      join(CERTS, "rsa2048-a.crt"),
      "-pkeyopt",
      "rsa_padding_mode:oaep",
      "-pkeyopt",
      "rsa_oaep_md:sha256",
      "-pkeyopt",
      "rsa_mgf1_md:sha256",
      "-in",
      tmp("file.key", fileKey),
    ]);
    const { key, warnings } = await openTokenKey(
      "pkcs11:token=alice;object=audit;type=private",
      opts("1111"),
    );
    const dk = tokenDecryptionKey(key);
    try {
      expect(warnings).toEqual([]);
      expect(dk.spkiFingerprint).toBe(spkiFingerprint(certDer("rsa2048-a")));
      expect(Buffer.from(await dk.decryptOaep(ct))).toEqual(fileKey);
      // SoftHSM 2.6 takes CKM_RSA_PKCS_OAEP with SHA-1 only (CKR_ARGUMENTS_BAD otherwise).
      expect(dk.notes).toEqual([
        'token "alice" does not do CKM_RSA_PKCS_OAEP with SHA-256; trailseal decrypts with CKM_RSA_X_509 on the token and checks the OAEP padding in memory',
      ]);
      const other = openssl([
        "pkeyutl",
        "-encrypt",
        "-certin",
        "-inkey",
        join(CERTS, "rsa2048-b.crt"),
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha256",
        "-in",
        tmp("file2.key", fileKey),
      ]);
      const e = await failure(dk.decryptOaep(other));
      expect([e.code, e.message]).toEqual([
        "STANZA_DECRYPT_FAILED",
        'rsa-oaep decryption with key "audit" (id 01) on token "alice" failed: a wrong key, or a corrupted stanza',
      ]);
    } finally {
      dk.close();
    }
  });

  it("derives the ECDH secret openssl pkeyutl -derive gets with the same peer key", async () => {
    const peerPem = openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    const peerFile = tmp("peer.pem", peerPem);
    const bobPub = tmp(
      "bob-pub.pem",
      createPublicKey(text("ec-p256-a.crt")).export({ type: "spki", format: "pem" }),
    );
    const expected = openssl(["pkeyutl", "-derive", "-inkey", peerFile, "-peerkey", bobPub]);
    const jwk = createPublicKey(peerPem.toString()).export({ format: "jwk" });
    const point = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(jwk.x!, "base64url"),
      Buffer.from(jwk.y!, "base64url"),
    ]);
    const { key } = await openTokenKey("pkcs11:token=bob;id=%02", opts("2222"));
    const dk = tokenDecryptionKey(key);
    try {
      expect(dk.spkiFingerprint).toBe(spkiFingerprint(certDer("ec-p256-a")));
      expect(Buffer.from(await dk.deriveEcdh(point))).toEqual(expected);
      const e = await failure(dk.deriveEcdh(point.subarray(0, 33)));
      expect([e.code, e.message]).toEqual([
        "STANZA_INVALID",
        "the originator key is not an uncompressed P-256 point (33 bytes)",
      ]);
    } finally {
      dk.close();
    }
  });

  it("signs PKCS#1 v1.5, PSS and ECDSA on the token; openssl dgst -verify accepts each", async () => {
    const data = tmp("data.bin", randomBytes(1000));
    const content = readFileSync(data);
    const rsa = tokenSigner(
      (await openTokenKey("pkcs11:token=officer;object=signing", opts("3333"))).key,
    );
    const ec = tokenSigner(
      (await openTokenKey("pkcs11:token=officer;object=signing%20ec", opts("3333"))).key,
    );
    try {
      expect(Buffer.from(rsa.certificate!)).toEqual(Buffer.from(certDer("signer")));
      expect([ec.certificate, ec.curve, ec.spkiFingerprint]).toEqual([
        null,
        "P-384",
        spkiFingerprint(certDer("ec-p384-a")),
      ]);
      const verify = (pub: string, sig: Uint8Array, hash: string, extra: string[] = []) =>
        openssl(
          ["dgst", `-${hash}`, "-verify", pub, "-signature", tmp("sig.bin", sig)]
            .concat(extra)
            .concat([data]),
        ).toString();
      const signerPub = tmp(
        "signer-pub.pem",
        createPublicKey(text("signer.crt")).export({ type: "spki", format: "pem" }),
      );
      const ecPub = tmp(
        "ec-pub.pem",
        createPublicKey(text("ec-p384-a.crt")).export({ type: "spki", format: "pem" }),
      );
      const pkcs1 = await rsa.sign(content, { scheme: "pkcs1", hash: "sha256" });
      expect(verify(signerPub, pkcs1, "sha256")).toBe("Verified OK\n");
      const pss = await rsa.sign(content, { scheme: "pss", hash: "sha256" });
      expect(
        verify(signerPub, pss, "sha256", [
          "-sigopt",
          "rsa_padding_mode:pss",
          "-sigopt",
          "rsa_pss_saltlen:32",
        ]),
      ).toBe("Verified OK\n");
      const ecdsa = await ec.sign(content, { scheme: "ecdsa", hash: "sha384" });
      expect(verify(ecPub, ecdsa, "sha384")).toBe("Verified OK\n");
      const e = await failure(() => rsa.sign(content, { scheme: "ecdsa", hash: "sha256" }));
      expect([e.code, e.message]).toEqual([
        "KEY_UNSUPPORTED",
        'key "signing" (id 0a0b) on token "officer" is an RSA key; it cannot sign with ecdsa',
      ]);
    } finally {
      rsa.close();
      ec.close();
    }
  });

  it("a wrong PIN is PKCS11_PIN_INCORRECT naming the token; no PIN is missing pin", async () => {
    const e = await failure(openTokenKey("pkcs11:token=alice;object=audit", opts("9999")));
    // SoftHSM 2.6 sets CKF_USER_PIN_COUNT_LOW after a failed login (and never locks the PIN).
    expect([e.code, e.message]).toEqual([
      "PKCS11_PIN_INCORRECT",
      'wrong pin for token "alice"; the token says few tries are left',
    ]);
    const e2 = await failure(openTokenKey("pkcs11:token=alice;object=audit", opts()));
    expect([e2.code, e2.message, e2.details.missing]).toEqual([
      "PKCS11_PIN_INCORRECT",
      'token "alice" needs its user pin',
      "pin",
    ]);
  });

  it("pin-source=file: reads the PIN; pin-value works with a warning", async () => {
    const pinFile = tmp("pin.txt", "1111\n");
    const a = await openTokenKey(
      `pkcs11:token=alice;object=audit?pin-source=file:${pinFile}`,
      opts(),
    );
    a.key.close();
    expect(a.warnings).toEqual([]);
    const b = await openTokenKey(
      `pkcs11:token=alice;object=audit?module-path=${SOFTHSM_MODULE}&pin-value=1111`,
      { env: {} },
    );
    b.key.close();
    expect(b.warnings).toEqual([
      "pin-value in a pkcs11 uri puts the PIN on the command line, where other users can read it in the process list; prefer pin-source=file:PATH",
    ]);
  });

  it("no such token lists the tokens the module has", async () => {
    const e = await failure(openTokenKey("pkcs11:token=carol;object=audit", opts("1111")));
    expect(e.code).toBe("PKCS11_NO_TOKEN");
    const token = (l: string) => `"${l}" \\(slot \\d+, serial [0-9a-f]{16}\\)`;
    expect(e.message).toMatch(
      new RegExp(
        `^no token matches pkcs11:token=carol;object=audit; module ${SOFTHSM_MODULE} has tokens ${["alice", "bob", "officer"].map(token).join(", ")}$`,
      ),
    );
  });

  it("no such object says which private keys the token holds", async () => {
    const e = await failure(openTokenKey("pkcs11:token=officer;object=nope", opts("3333")));
    expect([e.code, e.message]).toEqual([
      "PKCS11_NO_OBJECT",
      'no private key matches pkcs11:token=officer;object=nope on token "officer"; it holds private keys "signing" (id 0a0b), "signing ec" (id 0c)',
    ]);
    const e2 = await failure(openTokenKey("pkcs11:token=officer", opts("3333")));
    expect([e2.code, e2.message]).toEqual([
      "PKCS11_NO_OBJECT",
      'pkcs11:token=officer matches 2 private keys on token "officer"; it holds private keys "signing" (id 0a0b), "signing ec" (id 0c); add id= to the uri',
    ]);
    const e3 = await failure(openTokenKey("pkcs11:token=alice;type=cert", opts("1111")));
    expect([e3.code, e3.message]).toEqual([
      "PKCS11_URI_INVALID",
      "pkcs11:token=alice;type=cert names a cert object; a key to use is type=private",
    ]);
    const e4 = await failure(openTokenKey("pkcs11:token=alice;tokn=x", opts("1111")));
    expect([e4.code, e4.message]).toEqual([
      "PKCS11_URI_INVALID",
      "pkcs11 uri path attribute tokn is not one trailseal knows; remove it (an ignored attribute would match more objects than meant)",
    ]);
  });

  it("a mechanism the token lacks is PKCS11_MECHANISM listing what it offers", async () => {
    // "-" disables the listed mechanisms; SoftHSM 2.6.1 skips the first name after it, hence twice.
    hsm.use(hsm.config("slots.mechanisms = -CKM_ECDH1_DERIVE,CKM_ECDH1_DERIVE,CKM_RSA_X_509\n"));
    try {
      const bob = tokenDecryptionKey((await openTokenKey("pkcs11:token=bob", opts("2222"))).key);
      const alice = tokenDecryptionKey(
        (await openTokenKey("pkcs11:token=alice", opts("1111"))).key,
      );
      try {
        const e = await failure(bob.deriveEcdh(Buffer.concat([Buffer.from([4]), randomBytes(64)])));
        const prefix =
          'token "bob" does not offer CKM_ECDH1_DERIVE (ecdh key agreement) for key "audit" (id 02) on token "bob"; it offers ';
        expect(e.code).toBe("PKCS11_MECHANISM");
        expect(e.message.startsWith(prefix)).toBe(true);
        const offered = e.message.slice(prefix.length).split(", ");
        expect(offered).toEqual([...offered].sort());
        expect(offered).toHaveLength(68);
        expect(offered).toContain("CKM_ECDSA");
        expect(offered).toContain("CKM_RSA_PKCS_OAEP");
        expect(offered).not.toContain("CKM_ECDH1_DERIVE");
        expect(offered).not.toContain("CKM_RSA_X_509");
        const e2 = await failure(alice.decryptOaep(randomBytes(256)));
        expect(e2.code).toBe("PKCS11_MECHANISM");
        expect(e2.message).toBe(
          `token "alice" does not offer CKM_RSA_PKCS_OAEP with SHA-256 and MGF1-SHA-256, nor CKM_RSA_X_509 (rsa-oaep decryption) for key "audit" (id 01) on token "alice"; it offers ${offered.join(", ")}`,
        );
      } finally {
        bob.close();
        alice.close();
      }
    } finally {
      hsm.use();
    }
  });

  it("a session lost under the key is PKCS11_TOKEN_REMOVED naming token and key", async () => {
    const { key } = await openTokenKey("pkcs11:token=officer;id=%0a%0b", opts("3333"));
    const signer = tokenSigner(key);
    try {
      (
        key.loadedModule.lib as unknown as { C_CloseAllSessions(s: Buffer): void }
      ).C_CloseAllSessions(key.slot);
      const e = await failure(() =>
        signer.sign(new Uint8Array(10), { scheme: "pkcs1", hash: "sha256" }),
      );
      expect([e.code, e.message, e.hint]).toEqual([
        "PKCS11_TOKEN_REMOVED",
        'token "officer" was removed, or its session lost, while signing with CKM_SHA256_RSA_PKCS with key "signing" (id 0a0b) on token "officer" (CKR_SESSION_HANDLE_INVALID)',
        "insert the token again and rerun the command",
      ]);
    } finally {
      signer.close();
    }
  });

  it("a key opened with relogin opens a new session and logs in again when it loses its own", async () => {
    const { key } = await openTokenKey("pkcs11:token=officer;id=%0a%0b", {
      ...opts("3333"),
      relogin: true,
    });
    const signer = tokenSigner(key);
    try {
      const before = key.session;
      (
        key.loadedModule.lib as unknown as { C_CloseAllSessions(s: Buffer): void }
      ).C_CloseAllSessions(key.slot);
      const data = randomBytes(100);
      const sig = await signer.sign(data, { scheme: "pkcs1", hash: "sha256" });
      expect(key.session.equals(before)).toBe(false);
      const pub = createPublicKey(text("signer.crt"));
      expect(verify("sha256", data, pub, sig)).toBe(true);
    } finally {
      signer.close();
    }
  });

  it("two tokens of one module open side by side, and the module is finalized after the last", async () => {
    const a = await openTokenKey("pkcs11:token=alice", opts("1111"));
    const b = await openTokenKey("pkcs11:token=bob", opts("2222"));
    expect(a.key.loadedModule).toBe(b.key.loadedModule);
    expect(a.key.loadedModule.refs).toBe(2);
    a.key.close();
    expect(b.key.loadedModule.refs).toBe(1);
    b.key.close();
    a.key.close();
    expect(b.key.loadedModule.refs).toBe(0);
    const again = await openTokenKey("pkcs11:token=bob", opts("2222"));
    expect(again.key.loadedModule).not.toBe(b.key.loadedModule);
    again.key.close();
  });
});
