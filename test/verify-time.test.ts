/**
 * CAdES-T in the verdict: a checkpoint's timestamp proves when its signature existed, so the
 * signer's chain is checked at the token's genTime too, and a signing time claimed after genTime
 * is a false claim.
 */
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../src/events.js";
import type { SealingPlan } from "../src/policy.js";
import { checkpointSigner } from "../src/sign.js";
import { EKU, issueCertificate } from "../src/pkix/certify.js";
import { LOCAL_POLICY_OID, localStamper } from "../src/timestamp/token.js";
import { sealEvents } from "../src/trail/session.js";
import { verifyTrail } from "../src/verify.js";
import { TESTDATA, certDer, chunks, counterRandom } from "./helpers/fixtures.js";

const pki = (n: string) => join(TESTDATA, "pki", n);
const ROOT = certDer("pki/root-ca.pem");
const key = (n: string) => createPrivateKey(readFileSync(pki(n)));
const EVENTS: SessionEvent[] = [
  { type: "output", time: 1_000_000, data: new TextEncoder().encode("$ ") },
  { type: "output", time: 35_000_000, data: new TextEncoder().encode("bye\r\n") },
];
const PLAN: SealingPlan = {
  name: "t",
  downstream: null,
  upstream: null,
  signing: { x509Identity: "s" },
  timestamping: { selection: "local" },
  interval: 30,
};

async function seal(signerName: string, signClock: Date, stampClock: Date): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  let serial = 1n;
  await sealEvents({}, EVENTS, {
    plan: PLAN,
    sink: (c) => void out.push(c.slice()),
    random: counterRandom(),
    clock: () => signClock,
    signer: checkpointSigner({
      chain: [certDer(`pki/${signerName}.pem`), certDer("pki/intermediate-ca.pem")],
      key: key(`${signerName}.key`),
    }),
    stamper: localStamper(
      { chain: [certDer("pki/tsa.pem")], key: key("tsa.key") },
      { clock: () => stampClock, serial: () => serial++, policyOid: LOCAL_POLICY_OID },
    ),
    awaitStamps: true,
  });
  return new Uint8Array(Buffer.concat(out));
}

const verdict = (t: Uint8Array) =>
  verifyTrail(chunks(t, 4096), "t.trail", { anchors: [ROOT], tsaAnchors: [ROOT] });

describe("signatures judged at the timestamp's genTime", () => {
  /** A PKI of its own, valid from 2019: root, a signer valid only in 2020, and a TSA. */
  async function pki2020() {
    const at = (d: string) => new Date(d);
    const kp = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const root = kp();
    const rootDer = await issueCertificate({
      subject: "CN=time test root",
      publicKey: root.publicKey,
      signingKey: root.privateKey,
      notBefore: at("2019-01-01T00:00:00Z"),
      notAfter: at("2125-01-01T00:00:00Z"),
      keyUsage: { usages: ["keyCertSign", "cRLSign"], critical: true },
      basicConstraints: { ca: true },
    });
    const issuer = { certificate: rootDer, key: root.privateKey };
    const signer = kp();
    const signerDer = await issueCertificate({
      subject: "CN=signer of 2020",
      publicKey: signer.publicKey,
      issuer,
      notBefore: at("2020-01-01T00:00:00Z"),
      notAfter: at("2021-01-01T00:00:00Z"),
      keyUsage: { usages: ["digitalSignature"], critical: true },
      extendedKeyUsage: { oids: [EKU.codeSigning], critical: false },
      basicConstraints: { ca: false },
    });
    const tsa = kp();
    const tsaDer = await issueCertificate({
      subject: "CN=time test TSA",
      publicKey: tsa.publicKey,
      issuer,
      notBefore: at("2019-01-01T00:00:00Z"),
      notAfter: at("2125-01-01T00:00:00Z"),
      keyUsage: { usages: ["digitalSignature", "nonRepudiation"], critical: true },
      extendedKeyUsage: { oids: [EKU.timeStamping], critical: true },
      basicConstraints: { ca: false },
    });
    return {
      root: rootDer,
      signer: { chain: [signerDer], key: signer.privateKey },
      tsa: { chain: [tsaDer], key: tsa.privateKey },
    };
  }

  async function sealOwn(
    p: Awaited<ReturnType<typeof pki2020>>,
    signClock: Date,
    stampClock: Date,
  ) {
    const out: Uint8Array[] = [];
    let serial = 1n;
    await sealEvents({}, EVENTS, {
      plan: PLAN,
      sink: (c) => void out.push(c.slice()),
      random: counterRandom(),
      clock: () => signClock,
      signer: checkpointSigner(p.signer),
      stamper: localStamper(p.tsa, {
        clock: () => stampClock,
        serial: () => serial++,
        policyOid: LOCAL_POLICY_OID,
      }),
      awaitStamps: true,
    });
    const t = new Uint8Array(Buffer.concat(out));
    return verifyTrail(chunks(t, 4096), "t.trail", { anchors: [p.root], tsaAnchors: [p.root] });
  }

  it("signed and stamped while the signer was valid: VALID, even after it expired", async () => {
    const p = await pki2020();
    const v = await sealOwn(p, new Date("2020-06-01T00:00:00Z"), new Date("2020-06-01T00:00:05Z"));
    expect(v.signature.state).toBe("valid");
    expect(v.timestamp.state).toBe("valid");
    expect(v.valid).toBe(true);
  });

  it("a backdated signature by an expired certificate is untrusted (chain checked at genTime)", async () => {
    // Claims 2020, when the certificate was valid; the trusted token says it existed only in 2026.
    const p = await pki2020();
    const v = await sealOwn(p, new Date("2020-06-01T00:00:00Z"), new Date("2026-11-23T00:00:00Z"));
    expect(v.valid).toBe(false);
    expect(v.failed).toEqual(["signature"]);
    expect(v.signature).toMatchObject({
      state: "untrusted",
      error: { code: "CHAIN_UNTRUSTED", checkpoint: 1, record: 2 },
    });
    // The 2020 PKI is made per run, so the signer's fingerprint is open.
    expect(v.signature.state === "untrusted" && v.signature.error.message).toMatch(
      new RegExp(
        String.raw`^checkpoint 1 \(stamp record 2\): at the timestamp's genTime 2026-11-23T00:00:00\.000Z: ` +
          String.raw`certificate "CN=signer of 2020" \(sha256:[0-9a-f]{64}\) is not trusted at 2026-11-23T00:00:00Z: ` +
          String.raw`expired at 2026-11-23T00:00:00Z: "CN=signer of 2020" was valid until 2021-01-01T00:00:00Z$`,
      ),
    );
    expect(v.checkpoints.map((c) => c.signature.state)).toEqual(["untrusted", "untrusted"]);
  });

  it("a signing time claimed after the timestamp's genTime is invalid", async () => {
    const v = await verdict(
      await seal("signer-rsa", new Date("2026-11-24T00:00:00Z"), new Date("2026-11-23T00:00:00Z")),
    );
    expect(v.valid).toBe(false);
    expect(v.signature).toMatchObject({
      state: "invalid",
      error: { code: "SIGNATURE_INVALID", checkpoint: 1 },
    });
    expect(v.signature.state === "invalid" && v.signature.error.message).toMatch(
      /^checkpoint 1 \(stamp record \d+\): the signature claims signing time 2026-11-24T00:00:00\.000Z, after its timestamp's genTime 2026-11-23T00:00:00\.000Z$/,
    );
  });

  it("lists every signer with the checkpoints it signed", async () => {
    const v = await verdict(
      await seal("signer-rsa", new Date("2026-11-23T00:00:00Z"), new Date("2026-11-23T00:00:01Z")),
    );
    expect(v.valid).toBe(true);
    expect(v.signature.signers).toEqual([
      expect.objectContaining({
        subject: "C=XX, O=trailseal test, CN=trailseal test signer RSA",
        codeSigning: true,
        checkpoints: [1, 2],
      }),
    ]);
  });

  it("trust anchors require what they anchor, whatever the header says (no downgrade to unsigned)", async () => {
    const out: Uint8Array[] = [];
    await sealEvents({}, EVENTS, {
      plan: { ...PLAN, signing: null, timestamping: null },
      sink: (c) => void out.push(c.slice()),
      random: counterRandom(),
      clock: () => new Date(),
    });
    const t = new Uint8Array(Buffer.concat(out));
    const plain = await verifyTrail(chunks(t, 4096), "t", {});
    expect([plain.valid, plain.required]).toEqual([true, ["complete"]]);
    const anchored = await verifyTrail(chunks(t, 4096), "t", {
      anchors: [ROOT],
      tsaAnchors: [ROOT],
    });
    expect(anchored.required).toEqual(["signature", "timestamp", "complete"]);
    expect(anchored.failed).toEqual(["signature", "timestamp"]);
    expect(anchored.valid).toBe(false);
  });
});
