/**
 * The local authority that `trailseal init` creates, as SPS creates its internal CA and TSA
 * certificate at set-up: a self-signed CA, a TSA certificate it issues (timeStamping EKU,
 * critical), and a code-signing identity for checkpoint signatures.
 *
 *   HOME/ca.crt      the CA certificate (the trust anchor for local tokens and signatures)
 *   HOME/ca.key      its private key (PKCS#8 PEM, 0600)
 *   HOME/tsa.crt     TSA certificate, then the CA certificate (chain, leaf first)
 *   HOME/tsa.key     TSA private key (0600)
 *   HOME/signer.crt  signing certificate, then the CA certificate
 *   HOME/signer.key  signing private key (0600)
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { access, chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { TrailsealError } from "./errors.js";
import { publicKeyFingerprint, readPrivateKeys, writePrivateKeyFile } from "./keys.js";
import { certificateFingerprint, certificatePublicKey, readCertificates, toPem } from "./pem.js";
import { EKU, issueCertificate, serialFromRandom } from "./pkix/certify.js";
import { validateChain } from "./pkix/chain.js";
import { checkTsaIdentity } from "./timestamp/token.js";

export const AUTHORITY_FILES = {
  ca: "ca.crt",
  caKey: "ca.key",
  tsa: "tsa.crt",
  tsaKey: "tsa.key",
  signer: "signer.crt",
  signerKey: "signer.key",
} as const;

export type AuthorityKeyType = "rsa" | "ec";

export interface InitOptions {
  now: Date;
  force?: boolean;
  /** RSA 3072 (CA) / 2048 (TSA, signer), or ECDSA P-256 throughout. Default rsa. */
  keyType?: AuthorityKeyType;
  /** Organisation name in the subjects (default "trailseal local authority"). */
  organization?: string;
  /** Randomness for serials (default crypto.randomBytes). */
  random?: (n: number) => Uint8Array;
}

export interface Authority {
  home: string;
  /** The CA certificate (DER): the anchor for local tokens and signatures. */
  ca: Uint8Array;
  tsa: { chain: Uint8Array[]; key: KeyObject };
  signer: { chain: Uint8Array[]; key: KeyObject };
}

export interface InitResult {
  home: string;
  /** Files written, absolute paths. */
  files: string[];
  /** SHA-256 fingerprints (hex) of the certificates. */
  fingerprints: { ca: string; tsa: string; signer: string };
  keyType: AuthorityKeyType;
}

/**
 * The authority directory: `flag`, else $TRAILSEAL_HOME, else ~/.trailseal, where ~ is `env`'s
 * HOME or, when that is unset or empty, the user's home directory in the password database.
 * Refuses (USAGE) when there is no home at all, rather than falling back to a relative path.
 */
export function defaultHome(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  flag?: string,
): string {
  if (flag !== undefined) return resolve(cwd, flag);
  const fromEnv = env["TRAILSEAL_HOME"];
  if (fromEnv !== undefined && fromEnv !== "") return resolve(cwd, fromEnv);
  const fromHome = env["HOME"];
  const home = fromHome !== undefined && fromHome !== "" ? fromHome : passwdHome();
  if (home === undefined || home === "") {
    throw new TrailsealError(
      "USAGE",
      "cannot find the local authority: neither TRAILSEAL_HOME nor HOME is set, and the user has no home directory",
      { missing: "authority-home" },
    );
  }
  return resolve(cwd, home, ".trailseal");
}

/** The user's home directory from the password database; undefined when the uid has no entry. */
function passwdHome(): string | undefined {
  try {
    return userInfo().homedir;
  } catch {
    return undefined;
  }
}

const YEAR_MS = 365.25 * 24 * 3600 * 1000;

function newKey(
  type: AuthorityKeyType,
  bits: number,
): { privateKey: KeyObject; publicKey: KeyObject } {
  return type === "rsa"
    ? generateKeyPairSync("rsa", { modulusLength: bits })
    : generateKeyPairSync("ec", { namedCurve: "prime256v1" });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates the local authority in `home` (made with mode 0700; an existing `home` that others can
 * write to is refused, IO). Refuses (IO) to touch an existing authority unless `force`; checks
 * every file before writing any, so a refusal leaves nothing half-made.
 *
 * @example
 *   await initAuthority(defaultHome(process.env, process.cwd()), { now: new Date(), keyType: "ec" });
 */
/**
 * A self-signed certificate for an encryption key (keyEncipherment, dataEncipherment), as an
 * auditor would bring one: for demos and tests, ten years from a minute before `now`.
 * `random` is the top-level source (e.g. crypto.randomBytes) of its serial.
 *
 * @example
 *   const der = await selfSignedEncryptionCertificate("CN=alice", keys, new Date(), randomBytes);
 */
export async function selfSignedEncryptionCertificate(
  subject: string,
  keys: { publicKey: KeyObject; privateKey: KeyObject },
  now: Date,
  random: (n: number) => Uint8Array,
): Promise<Uint8Array> {
  return issueCertificate({
    subject,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 10 * YEAR_MS),
    serialHex: serialFromRandom(random(16)),
    keyUsage: { usages: ["keyEncipherment", "dataEncipherment"], critical: true },
  });
}

export async function initAuthority(home: string, options: InitOptions): Promise<InitResult> {
  const keyType = options.keyType ?? "rsa";
  const random = options.random ?? ((n: number) => new Uint8Array(randomBytes(n)));
  const org = options.organization ?? "trailseal local authority";
  const paths = Object.values(AUTHORITY_FILES).map((f) => join(home, f));
  if (options.force !== true) {
    const present = [];
    for (const p of paths) if (await exists(p)) present.push(p);
    if (present.length > 0) {
      throw new TrailsealError(
        "IO",
        `a local authority already exists in ${home} (${present.length} of its files are there)`,
        { missing: "force-authority" },
      );
    }
  }
  try {
    await mkdir(home, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new TrailsealError("IO", `cannot create ${home}`, { cause: e });
  }
  await checkHomeMode(home);

  // A little before now, so a verifier whose clock lags by minutes still accepts fresh tokens.
  const notBefore = new Date(options.now.getTime() - 3600 * 1000);
  const ca = newKey(keyType, 3072);
  const caDer = await issueCertificate({
    subject: `CN=trailseal local CA, O=${org}`,
    publicKey: ca.publicKey,
    signingKey: ca.privateKey,
    notBefore,
    notAfter: new Date(notBefore.getTime() + 20 * YEAR_MS),
    serialHex: serialFromRandom(random(16)),
    basicConstraints: { ca: true, pathLength: 0 },
    keyUsage: { usages: ["keyCertSign", "cRLSign"], critical: true },
  });
  /** A leaf the CA issues for ten years: digitalSignature + nonRepudiation and one EKU. */
  const leaf = async (name: string, eku: string, ekuCritical: boolean) => {
    const keys = newKey(keyType, 2048);
    const der = await issueCertificate({
      subject: `CN=trailseal local ${name}, O=${org}`,
      publicKey: keys.publicKey,
      issuer: { certificate: caDer, key: ca.privateKey },
      notBefore,
      notAfter: new Date(notBefore.getTime() + 10 * YEAR_MS),
      serialHex: serialFromRandom(random(16)),
      basicConstraints: { ca: false },
      keyUsage: { usages: ["digitalSignature", "nonRepudiation"], critical: true },
      extendedKeyUsage: { oids: [eku], critical: ekuCritical },
    });
    return { der, privateKey: keys.privateKey };
  };
  // RFC 3161 §2.3: the TSA certificate has exactly one extended key usage, critical.
  const tsa = await leaf("TSA", EKU.timeStamping, true);
  const signer = await leaf("signer", EKU.codeSigning, false);

  const pkcs8 = (k: KeyObject): string => k.export({ format: "pem", type: "pkcs8" }).toString();
  const force = options.force === true ? { force: true } : {};
  const file = (name: string): string => join(home, name);
  await writePrivateKeyFile(file(AUTHORITY_FILES.caKey), pkcs8(ca.privateKey), force);
  await writePrivateKeyFile(file(AUTHORITY_FILES.tsaKey), pkcs8(tsa.privateKey), force);
  await writePrivateKeyFile(file(AUTHORITY_FILES.signerKey), pkcs8(signer.privateKey), force);
  await writeCert(file(AUTHORITY_FILES.ca), toPem(caDer));
  await writeCert(file(AUTHORITY_FILES.tsa), toPem(tsa.der) + toPem(caDer));
  await writeCert(file(AUTHORITY_FILES.signer), toPem(signer.der) + toPem(caDer));

  return {
    home,
    files: paths,
    fingerprints: {
      ca: certificateFingerprint(caDer),
      tsa: certificateFingerprint(tsa.der),
      signer: certificateFingerprint(signer.der),
    },
    keyType,
  };
}

async function writeCert(path: string, pem: string): Promise<void> {
  try {
    await writeFile(path, pem, { mode: 0o644 });
    await chmod(path, 0o644);
  } catch (e) {
    throw new TrailsealError("IO", `cannot write ${path}`, { cause: e });
  }
}

/**
 * Refuses a home that other users can write to: whoever can rename files in it can swap in their
 * own CA certificate (the anchor verifiers are told to use) or their own signing key.
 */
async function checkHomeMode(home: string): Promise<void> {
  const mode = await stat(home).then(
    (s) => s.mode & 0o7777,
    () => 0,
  );
  if ((mode & 0o002) !== 0) {
    throw new TrailsealError(
      "IO",
      `${home} is writable by other users (mode ${(mode & 0o777).toString(8)}); they could replace the authority's keys and certificates`,
      { hint: `chmod 700 ${home}` },
    );
  }
  // An ancestor others can write to lets them rename the whole home away and put their own in
  // its place; a sticky one (/tmp) does not.
  for (let dir = dirname(home); ; dir = dirname(dir)) {
    const m = await stat(dir).then(
      (s) => s.mode & 0o7777,
      () => 0,
    );
    if ((m & 0o002) !== 0 && (m & 0o1000) === 0) {
      throw new TrailsealError(
        "IO",
        `${dir}, which holds ${home}, is writable by other users (mode ${(m & 0o777).toString(8)}); they could replace the authority`,
        { hint: `chmod o-w ${dir}, or use a home elsewhere` },
      );
    }
    if (dirname(dir) === dir) break;
  }
}

async function readFileIn(home: string, name: string): Promise<Uint8Array> {
  const path = join(home, name);
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new TrailsealError("IO", `no local authority in ${home}: cannot read ${name}`, {
      cause: e,
      missing: "authority",
    });
  }
}

async function loadIdentity(
  home: string,
  certName: string,
  keyName: string,
): Promise<{ chain: Uint8Array[]; key: KeyObject }> {
  const chain = await readCertificates(await readFileIn(home, certName), {
    source: join(home, certName),
  });
  // A private key others can read is no longer private: refuse it, as ssh does.
  const mode = await stat(join(home, keyName)).then(
    (s) => s.mode & 0o077,
    () => 0,
  );
  if (mode !== 0) {
    throw new TrailsealError(
      "KEY_INVALID",
      `${join(home, keyName)} can be read by other users (mode ${(mode | 0o600).toString(8)})`,
      { hint: `chmod 600 ${join(home, keyName)}` },
    );
  }
  const [key] = await readPrivateKeys(await readFileIn(home, keyName), {
    source: join(home, keyName),
  });
  if (key === undefined)
    throw new TrailsealError("KEY_INVALID", `no private key in ${join(home, keyName)}`);
  return { chain, key: key.key };
}

/**
 * Loads the local authority from `home`: the CA certificate, the TSA and the signing identity.
 * Throws IO (with a hint to run `trailseal init`) when it is missing, IO when others can write to
 * `home`, KEY_INVALID when a key file is readable by others or does not match its certificate,
 * CHAIN_UNTRUSTED when the TSA or the signer does not chain to the authority's CA at `now`
 * (default: the current time).
 */
export async function loadAuthority(
  home: string,
  options: { now?: Date } = {},
): Promise<Authority> {
  await checkHomeMode(home);
  const [ca] = await readCertificates(await readFileIn(home, AUTHORITY_FILES.ca), {
    source: join(home, AUTHORITY_FILES.ca),
  });
  if (ca === undefined)
    throw new TrailsealError(
      "NO_CERTIFICATE",
      `no certificate in ${join(home, AUTHORITY_FILES.ca)}`,
    );
  const tsa = await loadIdentity(home, AUTHORITY_FILES.tsa, AUTHORITY_FILES.tsaKey);
  checkTsaIdentity(tsa);
  const signer = await loadIdentity(home, AUTHORITY_FILES.signer, AUTHORITY_FILES.signerKey);
  const [signerCert] = signer.chain;
  if (signerCert === undefined)
    throw new TrailsealError(
      "NO_CERTIFICATE",
      `no certificate in ${join(home, AUTHORITY_FILES.signer)}`,
    );
  if (publicKeyFingerprint(certificatePublicKey(signerCert)) !== publicKeyFingerprint(signer.key)) {
    throw new TrailsealError(
      "KEY_INVALID",
      `${join(home, AUTHORITY_FILES.signerKey)} does not match ${join(home, AUTHORITY_FILES.signer)}`,
    );
  }
  // Files swapped or replaced by hand would make tokens and signatures no verifier accepts.
  const now = options.now ?? new Date();
  for (const [what, file, chain] of [
    ["TSA", AUTHORITY_FILES.tsa, tsa.chain],
    ["signer", AUTHORITY_FILES.signer, signer.chain],
  ] as const) {
    try {
      await validateChain(chain[0]!, chain.slice(1), [ca], now);
    } catch (e) {
      throw new TrailsealError(
        "CHAIN_UNTRUSTED",
        `the ${what} certificate ${join(home, file)} does not chain to ${join(home, AUTHORITY_FILES.ca)}: ${(e as Error).message}`,
        { cause: e, missing: "new-authority" },
      );
    }
  }
  return { home, ca, tsa, signer };
}
