import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFileSync, readdirSync } from "node:fs";
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
} from "node:crypto";
import {
  makeStanza,
  openLayer,
  openStanza,
  parseStanzaDer,
  type RecipientEntry,
  type Stanza,
  type StanzaKey,
} from "../src/recipients.js";
import { OID, envelopeAlgorithms } from "../src/pkix/envelope.js";
import { TrailsealError } from "../src/errors.js";
import { readPrivateKeys } from "../src/keys.js";

const CERTS = new URL("../testdata/certs/", import.meta.url);

function cert(name: string): Uint8Array {
  return new Uint8Array(new X509Certificate(readFileSync(new URL(`${name}.crt`, CERTS))).raw);
}

function key(name: string): StanzaKey {
  const k = createPrivateKey(readFileSync(new URL(`${name}.key`, CERTS)));
  const spki = createPublicKey(k).export({ format: "der", type: "spki" });
  return { key: k, spkiFingerprint: createHash("sha256").update(spki).digest("hex") };
}

function fingerprint(name: string): string {
  return key(name).spkiFingerprint;
}

function single(name: string): RecipientEntry {
  return { certificate: cert(name), fourEyes: null };
}

function fourEyes(inner: string, outer: string): RecipientEntry {
  return { certificate: cert(inner), fourEyes: cert(outer) };
}

/** The outcome of a promise as the code of the TrailsealError it throws, or "ok". */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof TrailsealError) return e.code;
    throw e; // anything else is a crash, and fails the test
  }
}

const fileKey = new Uint8Array(randomBytes(32));

describe("round trips", () => {
  it.each([
    ["rsa2048-a", "RSA", "ktri"],
    ["ec-p256-a", "EC", "kari"],
    ["ec-p384-a", "EC", "kari"],
    ["ec-p521-a", "EC", "kari"],
  ] as const)("%s", async (name, keyType, kind) => {
    const stanza = await makeStanza(fileKey, single(name));
    expect(stanza.layers).toEqual([
      {
        spkiFingerprint: fingerprint(name),
        subject: `O=trailseal tests, CN=trailseal test recipient ${name}`,
        keyType,
      },
    ]);
    expect(await parseStanzaDer(stanza.der)).toEqual({ recipientCount: 1, kinds: [kind] });
    expect(await openStanza(stanza, [key(name)])).toEqual(fileKey);
    // Any other keys given alongside are ignored.
    expect(await openStanza(stanza, [key("rsa2048-b"), key(name), key("ec-p256-a")])).toEqual(
      fileKey,
    );
  });

  it.each([
    ["rsa2048-a", "ec-p256-a"],
    ["ec-p384-a", "rsa2048-b"],
  ])("four-eyes: certificate %s inside four-eyes %s", async (inner, outer) => {
    const stanza = await makeStanza(fileKey, fourEyes(inner, outer));
    expect(stanza.layers.map((l) => l.spkiFingerprint)).toEqual([
      fingerprint(outer),
      fingerprint(inner),
    ]);
    // Keys in either order.
    expect(await openStanza(stanza, [key(inner), key(outer)])).toEqual(fileKey);
    expect(await openStanza(stanza, [key(outer), key(inner)])).toEqual(fileKey);
  });

  it("four-eyes handover: the outer holder's layer yields the inner envelope, which only the inner key opens", async () => {
    const stanza = await makeStanza(fileKey, fourEyes("rsa2048-a", "ec-p256-a"));
    expect((await parseStanzaDer(stanza.der)).kinds).toEqual(["kari"]);
    const handed = await openLayer(stanza.der, key("ec-p256-a"));
    expect(await parseStanzaDer(handed)).toEqual({ recipientCount: 1, kinds: ["ktri"] });
    expect(await openLayer(handed, key("rsa2048-a"))).toEqual(fileKey);
    // The outer key cannot open the inner envelope, nor the inner key the outer one.
    await expect(openLayer(handed, key("ec-p256-a"))).rejects.toMatchObject({
      code: "NO_MATCHING_KEY",
    });
    await expect(openLayer(stanza.der, key("rsa2048-a"))).rejects.toMatchObject({
      code: "NO_MATCHING_KEY",
    });
  });

  it("every stanza is fresh: the same key to the same certificate gives different bytes", async () => {
    const a = await makeStanza(fileKey, single("ec-p256-a"));
    const b = await makeStanza(fileKey, single("ec-p256-a"));
    expect(Buffer.from(a.der).equals(Buffer.from(b.der))).toBe(false);
  });
});

describe("property: any file key, any entry layout", () => {
  const names = ["rsa2048-a", "rsa2048-b", "ec-p256-a", "ec-p384-a", "ec-p521-a"] as const;
  const keys = names.map(key);

  it("openStanza returns exactly the enveloped file key, whatever the key order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.constantFrom(...names),
        fc.option(fc.constantFrom(...names), { nil: null }),
        fc.func(fc.integer()),
        async (bytes, inner, outer, order) => {
          const entry = { certificate: cert(inner), fourEyes: outer === null ? null : cert(outer) };
          const stanza = await makeStanza(bytes, entry);
          const shuffled = [...keys].sort(
            (a, b) => order(a.spkiFingerprint) - order(b.spkiFingerprint),
          );
          expect(await openStanza(stanza, shuffled)).toEqual(bytes);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("keys as keys.ts reads them", () => {
  it("four-eyes opens with an rsa key from PKCS#12 and an ec key from SEC1 PEM", async () => {
    const stanza = await makeStanza(fileKey, fourEyes("rsa2048-a", "ec-p256-a"));
    const p12 = readFileSync(new URL("variants/modern.p12", CERTS));
    const sec1 = readFileSync(new URL("keys/ec-sec1.pem", CERTS));
    const keys = [
      ...(await readPrivateKeys(p12, { source: "modern.p12", passphrase: "trailseal-test" })),
      ...(await readPrivateKeys(sec1, { source: "ec-sec1.pem" })),
    ];
    expect(keys.map((k) => k.spkiFingerprint)).toEqual([
      fingerprint("rsa2048-a"),
      fingerprint("ec-p256-a"),
    ]);
    expect(await openStanza(stanza, keys)).toEqual(fileKey);
  });
});

describe("missing keys", () => {
  const inner = "rsa2048-a";
  const outer = "ec-p256-a";
  /** A test recipient as the errors name it: fingerprint and subject. */
  const named = (n: string) =>
    `sha256:${fingerprint(n)} (O=trailseal tests, CN=trailseal test recipient ${n})`;

  it.each([
    [inner, outer],
    [outer, inner],
  ])("four-eyes with only %s fails naming %s", async (given, missing) => {
    const stanza = await makeStanza(fileKey, fourEyes(inner, outer));
    const error = await openStanza(stanza, [key(given)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrailsealError);
    expect(error).toMatchObject({ code: "NO_MATCHING_KEY" });
    expect((error as TrailsealError).message).toBe(
      `four-eyes stanza needs the key of ${named(missing)}`,
    );
  });

  it("with no keys, both four-eyes fingerprints are named", async () => {
    const stanza = await makeStanza(fileKey, fourEyes(inner, outer));
    const error = (await openStanza(stanza, [key("rsa2048-c")]).catch(
      (e: unknown) => e,
    )) as TrailsealError;
    expect(error.code).toBe("NO_MATCHING_KEY");
    // Both, in the stanza's order (outer, then inner).
    expect(error.message).toBe(
      `four-eyes stanza needs the key of ${named(outer)} and ${named(inner)}`,
    );
  });

  it("a single stanza with another key fails naming its fingerprint", async () => {
    const stanza = await makeStanza(fileKey, single("rsa2048-a"));
    const error = (await openStanza(stanza, [key("rsa2048-b")]).catch(
      (e: unknown) => e,
    )) as TrailsealError;
    expect(error.code).toBe("NO_MATCHING_KEY");
    expect(error.message).toBe(`stanza needs the key of ${named("rsa2048-a")}`);
  });

  it.each([
    ["rsa2048-a", "rsa2048-b", "rsa-oaep decryption of the content key failed"],
    ["rsa2048-a", "ec-p256-a", "no recipient in the stanza takes a key of type ec"],
    ["ec-p256-a", "ec-p384-a", "ecdh with the originator key failed"],
    ["ec-p384-a", "rsa2048-a", "no recipient in the stanza takes a key of type rsa"],
  ])("openLayer on a %s envelope with the %s key: NO_MATCHING_KEY", async (to, wrong, why) => {
    const stanza = await makeStanza(fileKey, single(to));
    // P-256 key against another P-256 envelope: the wrong scalar fails the AES key unwrap check.
    await expect(openLayer(stanza.der, key(wrong))).rejects.toMatchObject({
      code: "NO_MATCHING_KEY",
      message: `key sha256:${fingerprint(wrong)} does not open this envelope: ${why}`,
    });
  });
});

describe("refused certificates", () => {
  it("rsa-1024 is refused with KEY_TOO_SMALL naming the fingerprint and subject", async () => {
    const error = (await makeStanza(fileKey, single("rsa1024-weak")).catch(
      (e: unknown) => e,
    )) as TrailsealError;
    expect(error).toBeInstanceOf(TrailsealError);
    expect(error.code).toBe("KEY_TOO_SMALL");
    expect(error.message).toBe(
      `certificate O=trailseal tests, CN=trailseal test weak rsa1024 (sha256:${fingerprint("rsa1024-weak")}) has a 1024-bit RSA key; encryption needs 2048 bits or more`,
    );
  });

  it("rsa-1024 as the four-eyes certificate is refused too", async () => {
    await expect(makeStanza(fileKey, fourEyes("rsa2048-a", "rsa1024-weak"))).rejects.toMatchObject({
      code: "KEY_TOO_SMALL",
    });
  });

  it("ed25519 is KEY_UNSUPPORTED", async () => {
    await expect(makeStanza(fileKey, single("ed25519-a"))).rejects.toMatchObject({
      code: "KEY_UNSUPPORTED",
    });
  });

  it("a non-certificate is NOT_A_CERTIFICATE", async () => {
    await expect(
      makeStanza(fileKey, {
        certificate: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]),
        fourEyes: null,
      }),
    ).rejects.toMatchObject({ code: "NOT_A_CERTIFICATE" });
  });

  it("a file key that is not 32 bytes is a USAGE error", async () => {
    await expect(makeStanza(new Uint8Array(16), single("rsa2048-a"))).rejects.toMatchObject({
      code: "USAGE",
    });
  });
});

describe("parameters in the DER", () => {
  it("rsa: RSAES-OAEP with SHA-256 and MGF1-SHA-256, AES-256-CBC content", async () => {
    const stanza = await makeStanza(fileKey, single("rsa2048-a"));
    expect(envelopeAlgorithms(stanza.der)).toEqual({
      content: OID.aes256Cbc,
      recipients: [
        {
          kind: "ktri",
          keyEncryption: OID.rsaesOaep,
          oaep: { hash: OID.sha256, mgf1Hash: OID.sha256 },
        },
      ],
    });
    // The exact RFC 4055 encoding: [0] sha256 NULL, [1] mgf1(sha256 NULL), no pSourceFunc.
    const params = Buffer.from(
      "302fa00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500",
      "hex",
    );
    expect(Buffer.from(stanza.der).includes(params)).toBe(true);
  });

  it("ec: dhSinglePass-stdDH-sha256kdf-scheme with id-aes256-wrap", async () => {
    const stanza = await makeStanza(fileKey, single("ec-p521-a"));
    expect(envelopeAlgorithms(stanza.der)).toEqual({
      content: OID.aes256Cbc,
      recipients: [{ kind: "kari", keyEncryption: OID.stdDhSha256Kdf, wrap: OID.aes256Wrap }],
    });
  });
});

describe("corrupted stanzas", () => {
  async function stanzaFor(name: string): Promise<Stanza> {
    return makeStanza(fileKey, single(name));
  }

  it.each([
    ["empty", () => new Uint8Array()],
    ["random bytes", () => new Uint8Array(randomBytes(300))],
    ["an integer", () => new Uint8Array([0x02, 0x01, 0x05])],
  ])("%s: STANZA_INVALID from parseStanzaDer and openStanza", async (_name, make) => {
    const der = make();
    await expect(parseStanzaDer(der)).rejects.toThrow(
      expect.objectContaining({ code: "STANZA_INVALID" }),
    );
    const stanza = await stanzaFor("rsa2048-a");
    expect(await outcome(openStanza({ der, layers: stanza.layers }, [key("rsa2048-a")]))).toBe(
      "STANZA_INVALID",
    );
  });

  it("truncated at every length: STANZA_INVALID", async () => {
    const stanza = await stanzaFor("ec-p256-a");
    for (let n = 0; n < stanza.der.byteLength; n += 7) {
      const der = stanza.der.subarray(0, n);
      await expect(parseStanzaDer(der)).rejects.toThrow(
        expect.objectContaining({ code: "STANZA_INVALID" }),
      );
    }
  });

  it("trailing bytes: STANZA_INVALID", async () => {
    const stanza = await stanzaFor("rsa2048-a");
    const der = new Uint8Array([...stanza.der, 0]);
    await expect(parseStanzaDer(der)).rejects.toThrow(
      expect.objectContaining({ code: "STANZA_INVALID" }),
    );
  });

  it("a flipped bit in the rsa encrypted key: STANZA_DECRYPT_FAILED", async () => {
    const stanza = await stanzaFor("rsa2048-a");
    // The 256-byte encryptedKey OCTET STRING of an RSA-2048 ktri.
    const at = Buffer.from(stanza.der).indexOf(Buffer.from("04820100", "hex"));
    expect(at).toBeGreaterThan(0);
    const der = new Uint8Array(stanza.der);
    der[at + 4 + 100]! ^= 0x01;
    expect(await outcome(openStanza({ ...stanza, der }, [key("rsa2048-a")]))).toBe(
      "STANZA_DECRYPT_FAILED",
    );
  });

  it("a flipped bit in the ec originator key: STANZA_DECRYPT_FAILED", async () => {
    const stanza = await stanzaFor("ec-p256-a");
    // BIT STRING of an uncompressed P-256 point: 03 42 00 04 x y.
    const at = Buffer.from(stanza.der).indexOf(Buffer.from("03420004", "hex"));
    expect(at).toBeGreaterThan(0);
    const der = new Uint8Array(stanza.der);
    der[at + 4 + 10]! ^= 0x01;
    expect(await outcome(openStanza({ ...stanza, der }, [key("ec-p256-a")]))).toBe(
      "STANZA_DECRYPT_FAILED",
    );
  });

  it("an inner envelope where the file key should be: STANZA_INVALID", async () => {
    // A four-eyes DER presented as a single stanza of its outer recipient.
    const stanza = await makeStanza(fileKey, fourEyes("rsa2048-a", "ec-p256-a"));
    const outerOnly = { der: stanza.der, layers: stanza.layers.slice(0, 1) };
    expect(await outcome(openStanza(outerOnly, [key("ec-p256-a")]))).toBe("STANZA_INVALID");
  });

  it.each(["rsa2048-a", "ec-p256-a"])(
    "%s: a bit flipped at each byte gives a TrailsealError code or a 32-byte key, never a crash",
    async (name) => {
      const stanza = await stanzaFor(name);
      const keys = [key(name)];
      const seen = new Map<string, number>();
      for (let i = 0; i < stanza.der.byteLength; i++) {
        const der = new Uint8Array(stanza.der);
        der[i]! ^= 0x04;
        let result: string;
        try {
          const out = await openStanza({ ...stanza, der }, keys);
          // Unauthenticated fields (rid, IV, first CBC block) can change without an error; the
          // trail's key commitment catches a changed key.
          expect(out.byteLength).toBe(32);
          result = "ok";
        } catch (e) {
          expect(e).toBeInstanceOf(TrailsealError);
          result = (e as TrailsealError).code;
        }
        seen.set(result, (seen.get(result) ?? 0) + 1);
      }
      expect([...seen.keys()].sort()).toEqual(
        expect.arrayContaining(["STANZA_DECRYPT_FAILED", "STANZA_INVALID"]),
      );
      for (const code of seen.keys()) {
        expect(["ok", "STANZA_DECRYPT_FAILED", "STANZA_INVALID"]).toContain(code);
      }
    },
  );
});

describe("vectors made by openssl cms -encrypt (testdata/recipients)", () => {
  const root = new URL("../testdata/recipients/", import.meta.url);
  const names = readdirSync(new URL("vectors/", root)).sort();

  function vectorKey(name: string): StanzaKey {
    const k = createPrivateKey(readFileSync(new URL(`keys/${name}.key`, root)));
    const spki = createPublicKey(k).export({ format: "der", type: "spki" });
    return { key: k, spkiFingerprint: createHash("sha256").update(spki).digest("hex") };
  }

  it("there are vectors", () => {
    expect(names.length).toBeGreaterThanOrEqual(15);
  });

  it.each(names)("%s", async (name) => {
    const text = readFileSync(new URL(`vectors/${name}`, root), "utf8");
    const blank = text.indexOf("\n\n");
    const header = new Map(
      text
        .slice(0, blank)
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]),
    );
    const der = new Uint8Array(Buffer.from(text.slice(blank + 2), "base64"));
    const expected = header.get("expect");
    const result = await openLayer(der, vectorKey(header.get("key")!)).then(
      (content) => ({ code: "ok", content: Buffer.from(content).toString("hex") }),
      (e: unknown) => {
        if (!(e instanceof TrailsealError)) throw e;
        return { code: e.code, content: undefined };
      },
    );
    expect(result.code).toBe(expected);
    if (expected === "ok") expect(result.content).toBe(header.get("content"));
  });
});
