/**
 * `trailseal verify --untrusted` (issue 15 item 9) on real trails whose checkpoint signatures
 * and timestamp tokens leave certificates out, as real signers and TSAs do: a signer that sends
 * its leaf without the intermediate, or no certificate at all, and a TSA asked without certReq.
 * Given with --untrusted, the certificates complete the chains; they are never anchors.
 */
import { createPrivateKey } from "node:crypto";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { children, encodeAlgorithm, readWhole, seq, slice, TAG, tlv } from "../src/pkix/der.js";
import { OID } from "../src/pkix/oid.js";
import { checkpointSigner, signatureValue, type CheckpointSigner } from "../src/sign.js";
import {
  issueToken,
  LOCAL_POLICY_OID,
  serialSource,
  type Stamper,
} from "../src/timestamp/token.js";
import { sealEvents } from "../src/trail/session.js";
import { runCli, untimed } from "./helpers/io.js";
import { certDer, counterRandom } from "./helpers/fixtures.js";
import { pkiPath, tsaFixture } from "./helpers/tsa.js";

const dir = mkdtempSync(join(tmpdir(), "trailseal-verify-untrusted-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SIGNER = "C=XX, O=trailseal test, CN=trailseal test signer RSA";
const TSA = "C=XX, O=trailseal test, CN=trailseal test TSA";
const ROOT_CA = "C=XX, O=trailseal test, CN=trailseal test root CA";
const INTERMEDIATE_CA = "C=XX, O=trailseal test, CN=trailseal test intermediate CA";

/** A CMS ContentInfo(SignedData) with its `certificates` field left out. */
function withoutCertificates(contentInfo: Uint8Array): Uint8Array {
  const [type, wrapped] = children(contentInfo, readWhole(contentInfo));
  const signedData = children(contentInfo, wrapped!)[0]!;
  const fields = children(contentInfo, signedData)
    .filter((t) => t.tag !== TAG.CTX0)
    .map((t) => slice(contentInfo, t));
  return seq(slice(contentInfo, type!), tlv(TAG.CTX0, seq(...fields)));
}

/** The RSA signer under the intermediate CA, sending its leaf only, or (bare) no certificate. */
function signer(bare: boolean): CheckpointSigner {
  const inner = checkpointSigner({
    chain: [certDer("pki/signer-rsa.pem")],
    key: createPrivateKey(readFileSync(pkiPath("signer-rsa.key"))),
  });
  return {
    sign: async (content, at) => {
      const signed = await inner.sign(content, at);
      return bare ? withoutCertificates(signed) : signed;
    },
    signatureValue,
  };
}

/** A TSA answering requests without certReq: its tokens carry no certificate. */
function stamperWithoutCertificates(clock: () => Date): Stamper {
  const serial = serialSource(counterRandom(7));
  return {
    kind: "local",
    stamp: (imprint, nonce) =>
      Promise.resolve(
        issueToken(tsaFixture("tsa"), {
          hashAlgorithmDer: encodeAlgorithm(OID.sha256),
          digest: imprint,
          nonce,
          policyOid: LOCAL_POLICY_OID,
          serial: serial(),
          genTime: clock(),
          includeCertificates: false,
        }),
      ),
  };
}

async function seal(name: string, bare: boolean): Promise<string> {
  const parts: Uint8Array[] = [];
  const at = new Date("2026-06-01T12:00:00Z");
  await sealEvents(
    { cols: 80, rows: 24, command: "bash" },
    [
      { type: "output", time: 500_000, data: new TextEncoder().encode("$ ") },
      { type: "output", time: 40_000_000, data: new TextEncoder().encode("exit\r\n") },
    ],
    {
      plan: {
        name: "t",
        downstream: null,
        upstream: null,
        signing: { x509Identity: "signer" },
        timestamping: { selection: "local" },
        interval: 30,
      },
      sink: (c) => void parts.push(c.slice()),
      random: counterRandom(),
      clock: () => at,
      signer: signer(bare),
      stamper: stamperWithoutCertificates(() => at),
      awaitStamps: true,
    },
  );
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat(parts));
  return path;
}

const verify = (trail: string, extra: string[]) =>
  runCli(
    ["verify", trail, "--ca", pkiPath("root-ca.pem"), "--tsa-ca", pkiPath("root-ca.pem"), ...extra],
    {
      cwd: dir,
    },
  );

let leafOnly: string;
let bare: string;
beforeAll(async () => {
  leafOnly = await seal("leaf-only.trail", false);
  bare = await seal("bare.trail", true);
});

const FP = {
  signer: "e44ccca93c6c7a11f3d5461287bc9e3fdeaeb47a6761089d1792a9effab08c43",
  tsa: "f61de6f21b9b8ff22d083ad3c2a943b903e85f63fa687bae897cce517e32dc85",
};
const AT = "2026-06-01T12:00:00Z";
const notTrusted = (who: "signer" | "tsa", why: string) =>
  `certificate "${who === "signer" ? SIGNER : TSA}" (sha256:${FP[who]}) is not trusted at ${AT}: ${why}`;
const LINES = {
  head: (trail: string, failed: string) =>
    `${trail}: ${failed === "" ? "VALID" : `INVALID (failed: ${failed})`}\n` +
    "  DOWNSTREAM  clear, 3 frames\n" +
    "  UPSTREAM    clear, 1 frame\n",
  signatureValid: `  SIGNATURE   valid: ${SIGNER} (code signing), 2 checkpoints signed\n`,
  timestampValid: `  TIMESTAMP   valid: 2 tokens, local TSA ${TSA}, genTime 2026-06-01T12:00:00.000Z, policy 1.3.6.1.4.1.32473.3161.1\n`,
  tsaLeftOut:
    "  TIMESTAMP   invalid: checkpoint 1 (record 2): the signer's certificate is not included in the signature, nor given (give it with --untrusted FILE)\n",
  integrity: "  INTEGRITY   complete: 8 records, 2 checkpoints, final checkpoint 2 at 40s\n",
};
const untrusted = (...names: string[]) => names.flatMap((n) => ["--untrusted", pkiPath(n)]);

describe("verify --untrusted: certificates a trail's signatures and tokens leave out", () => {
  it("a signer without its intermediate and TSA tokens without certificates: refused, naming what is missing", async () => {
    const r = await verify(leafOnly, []);
    expect([r.code, r.stderr]).toEqual([1, ""]);
    expect(r.stdout).toBe(
      LINES.head(leafOnly, "signature, timestamp") +
        `  SIGNATURE   untrusted: checkpoint 1 (record 1): ${notTrusted("signer", `no path to a trust anchor: the issuer "${INTERMEDIATE_CA}" of "${SIGNER}" is neither a trust anchor nor among the 0 included certificate(s)`)}\n` +
        LINES.tsaLeftOut +
        LINES.integrity,
    );
  });

  it("the intermediate with --untrusted completes the signer's chain; the TSA's certificate its tokens", async () => {
    const half = await verify(leafOnly, untrusted("intermediate-ca.pem"));
    expect([half.code, half.stderr]).toEqual([1, ""]);
    expect(half.stdout).toBe(
      LINES.head(leafOnly, "timestamp") + LINES.signatureValid + LINES.tsaLeftOut + LINES.integrity,
    );
    const all = await verify(leafOnly, untrusted("intermediate-ca.pem", "tsa.pem"));
    expect([all.code, all.stderr]).toEqual([0, ""]);
    expect(all.stdout).toBe(
      LINES.head(leafOnly, "") + LINES.signatureValid + LINES.timestampValid + LINES.integrity,
    );
  });

  it("a signer that sent no certificate at all: refused naming --untrusted; valid given its certificate and intermediate", async () => {
    const r = await verify(bare, []);
    expect([r.code, r.stderr]).toEqual([1, ""]);
    expect(r.stdout).toBe(
      LINES.head(bare, "signature, timestamp") +
        "  SIGNATURE   invalid: checkpoint 1 (record 1): signature invalid: the signer's certificate is not included in the signature, nor given (give it with --untrusted FILE)\n" +
        LINES.tsaLeftOut +
        LINES.integrity,
    );
    // The leaf alone supplies the signer; its chain still wants the intermediate.
    const leaf = await verify(bare, untrusted("signer-rsa.pem", "tsa.pem"));
    expect([leaf.code, leaf.stderr]).toEqual([1, ""]);
    expect(leaf.stdout).toBe(
      LINES.head(bare, "signature") +
        `  SIGNATURE   untrusted: checkpoint 1 (record 1): ${notTrusted("signer", `no path to a trust anchor: the issuer "${INTERMEDIATE_CA}" of "${SIGNER}" is neither a trust anchor nor among the 1 included certificate(s)`)}\n` +
        LINES.timestampValid +
        LINES.integrity,
    );
    const chain = await verify(bare, untrusted("signer-rsa-chain.pem", "tsa.pem"));
    expect([chain.code, chain.stderr]).toEqual([0, ""]);
    expect(chain.stdout).toBe(
      LINES.head(bare, "") + LINES.signatureValid + LINES.timestampValid + LINES.integrity,
    );
  });

  it("a self-signed root given as --untrusted is no anchor: CHAIN_UNTRUSTED under a foreign anchor and with none", async () => {
    const given = untrusted("intermediate-ca.pem", "root-ca.pem", "tsa.pem");
    const foreign = await runCli(
      [
        "verify",
        leafOnly,
        "--ca",
        pkiPath("foreign-root-ca.pem"),
        "--tsa-ca",
        pkiPath("foreign-root-ca.pem"),
        ...given,
      ],
      { cwd: dir },
    );
    const rootNotAnchor = `no path to a trust anchor: "${ROOT_CA}" is a root that is not a trust anchor`;
    expect([foreign.code, foreign.stderr]).toEqual([1, ""]);
    expect(foreign.stdout).toBe(
      LINES.head(leafOnly, "signature, timestamp") +
        `  SIGNATURE   untrusted: checkpoint 1 (record 1): ${notTrusted("signer", rootNotAnchor)}\n` +
        `  TIMESTAMP   untrusted: checkpoint 1 (record 2): ${notTrusted("tsa", rootNotAnchor)}\n` +
        LINES.integrity,
    );
    const none = await runCli(["verify", leafOnly, "--json", ...given], { cwd: dir });
    expect(none.code).toBe(1);
    const [v] = JSON.parse(none.stdout) as {
      signature: { state: string; error: object };
      timestamp: { state: string; error: object };
    }[];
    expect([v!.signature.state, v!.signature.error]).toEqual([
      "untrusted",
      {
        code: "CHAIN_UNTRUSTED",
        message: `checkpoint 1 (record 1): ${notTrusted("signer", "no trust anchors were given")}`,
        missing: "trust-anchor",
        checkpoint: 1,
        record: 1,
      },
    ]);
    expect([v!.timestamp.state, v!.timestamp.error]).toEqual([
      "untrusted",
      {
        code: "CHAIN_UNTRUSTED",
        message: `checkpoint 1 (record 2): ${notTrusted("tsa", "no trust anchors were given")}`,
        missing: "tsa-trust-anchor",
        checkpoint: 1,
        record: 2,
      },
    ]);
  });

  it("in --json, a certificate left out is missing 'untrusted-certificate'", async () => {
    const r = await runCli(
      [
        "verify",
        bare,
        "--json",
        "--ca",
        pkiPath("root-ca.pem"),
        "--tsa-ca",
        pkiPath("root-ca.pem"),
      ],
      {
        cwd: dir,
      },
    );
    const [v] = JSON.parse(r.stdout) as {
      signature: { error: object };
      timestamp: { error: object };
    }[];
    expect(v!.signature.error).toEqual({
      code: "SIGNATURE_INVALID",
      message:
        "checkpoint 1 (record 1): signature invalid: the signer's certificate is not included in the signature, nor given",
      missing: "untrusted-certificate",
      checkpoint: 1,
      record: 1,
    });
    expect(v!.timestamp.error).toEqual({
      code: "TIMESTAMP_INVALID",
      message:
        "checkpoint 1 (record 2): the signer's certificate is not included in the signature, nor given",
      missing: "untrusted-certificate",
      checkpoint: 1,
      record: 2,
    });
  });
});

describe("verify --untrusted on many trails", () => {
  it("reaches the worker threads: a directory on --jobs 2 verifies both trails", async () => {
    const many = join(dir, "many");
    mkdirSync(many);
    copyFileSync(leafOnly, join(many, "a.trail"));
    copyFileSync(bare, join(many, "b.trail"));
    const r = await runCli(
      [
        ...["verify", many, "--jobs", "2", "--ca", pkiPath("root-ca.pem")],
        ...["--tsa-ca", pkiPath("root-ca.pem"), ...untrusted("signer-rsa-chain.pem", "tsa.pem")],
      ],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    // The trails are sealed with a fixed random stream and clock: their size is fixed too.
    expect(statSync(leafOnly).size + statSync(bare).size).toBe(10_380);
    expect(untimed(r.stderr)).toBe(
      "trailseal: summary: 2 trails: 2 valid, 0 invalid, 0 truncated, 0 tampered, 0 unreadable; 10 KiB in T s, R trails/s\n",
    );
    const valid = (trail: string) =>
      LINES.head(trail, "") + LINES.signatureValid + LINES.timestampValid + LINES.integrity;
    expect(r.stdout).toBe(valid(join(many, "a.trail")) + valid(join(many, "b.trail")));
  }, 30_000);
});
