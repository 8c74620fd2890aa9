/**
 * The sealing options shared by `seal` and `record`: the policy, the signing identity and the
 * timestamp source, turned into trail-writer options.
 */
import type { Command } from "commander";
import { isTrailsealError, TrailsealError } from "../errors.js";
import type { SealingPlan } from "../policy.js";
import { AUTHORITY_FILES, defaultHome, loadAuthority } from "../authority.js";
import { describeCertificate, readCertificates } from "../pem.js";
import { isPkcs11Uri, readPrivateKeys } from "../keys.js";
import type { TokenSigner } from "../pkcs11/ops.js";
import {
  checkpointSigner,
  loadSigningIdentity,
  tokenCertificates,
  tokenSigningIdentity,
  type CheckpointSigner,
  type SigningIdentity,
} from "../sign.js";
import { localStamper, type Stamper, type TsaIdentity } from "../timestamp/token.js";
import { remoteStamper, shownUrl } from "../timestamp/client.js";
import { collect, say, type Io } from "./io.js";
import {
  loadCertificates,
  loadPlan,
  openTokenSigner,
  passphrase,
  tokenOptions,
  type TokenFlags,
} from "./common.js";
import { readInput } from "./files.js";

export interface SealingFlags extends TokenFlags {
  policy: string;
  signCert?: string;
  signKey?: string;
  passin?: string;
  home?: string;
  tsaCert?: string;
  tsaKey?: string;
  tsaUrl?: string[];
  tsaCa?: string[];
  tsaTlsCa?: string[];
  tsaTimeout?: string;
  tsaPassin?: string;
  signPss?: boolean;
}

/** Declares the sealing options on a command. */
export function sealingOptions(cmd: Command): Command {
  cmd
    .requiredOption("--policy <file>", "audit policy (as 'trailseal policy create' writes it)")
    .option(
      "--sign-cert <file>",
      "signing certificate, leaf first, then intermediates (for a token key: default the token's certificate with the key's id)",
    )
    .option(
      "--sign-key <file|uri>",
      "private key of the signing certificate: a file, or a PKCS#11 URI (pkcs11:token=…;object=…)",
    )
    .option(
      "--sign-pss",
      "sign with RSASSA-PSS (SHA-256, MGF1-SHA-256) instead of PKCS#1 v1.5 (RSA keys)",
    )
    .option("--passin <spec>", "passphrase for encrypted keys: env:VAR, file:PATH or pass:TEXT")
    .option(
      "--home <dir>",
      "local authority for local timestamping (default $TRAILSEAL_HOME or ~/.trailseal)",
    )
    .option(
      "--tsa-cert <file>",
      "local TSA certificate chain, instead of the authority's (for a token key: default the token's certificate)",
    )
    .option(
      "--tsa-key <file|uri>",
      "local TSA private key, instead of the authority's: a file, or a PKCS#11 URI",
    )
    .option("--tsa-passin <spec>", "passphrase of --tsa-key when it is not that of --passin")
    .option(
      "--tsa-url <url>",
      "fallback RFC 3161 TSA URL, tried in order after the policy's (repeatable)",
      collect,
    )
    .option(
      "--tsa-ca <file>",
      "trust anchor that remote TSA tokens must chain to (repeatable)",
      collect,
    )
    .option(
      "--tsa-tls-ca <file>",
      "CA certificate(s) an https:// TSA's server certificate must chain to, instead of the system's (repeatable)",
      collect,
    )
    .option("--tsa-timeout <seconds>", "timeout of one remote TSA exchange", "10");
  return tokenOptions(cmd, "--sign-key/--tsa-key");
}

/**
 * The TLS trust of `--tsa-tls-ca`: it replaces the system store for https:// TSAs, so a TSA
 * behind a private TLS CA is reached without trusting that CA for anything else in the process
 * (as NODE_EXTRA_CA_CERTS would). Empty when the option is absent; a warning when no URL uses it,
 * and one for each http:// URL that carries credentials.
 */
export async function tlsTrust(
  paths: readonly string[],
  urls: readonly string[],
  io: Io,
): Promise<Uint8Array[]> {
  const certs = await loadCertificates(paths, io);
  if (certs.length > 0 && !urls.some((u) => /^https:/i.test(u)))
    say(io, "warning", "--tsa-tls-ca applies to https:// TSA URLs only; none is used here");
  for (const url of urls) {
    // Node sends a URL's user:password as HTTP Basic authentication: over http://, in the clear.
    if (sendsCredentialsInClear(url)) {
      say(
        io,
        "warning",
        `TSA ${shownUrl(url)} carries credentials over plain http://, readable by anyone on the network path; use https://`,
      );
    }
  }
  return certs;
}

/** A parseable http:// URL with a user or password (one that does not parse fails elsewhere). */
function sendsCredentialsInClear(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === "http:" && (u.username !== "" || u.password !== "");
  } catch {
    return false;
  }
}

async function readFirstKey(path: string, pass: string | undefined, io: Io) {
  const keys = await readPrivateKeys(
    await readInput(path, io),
    pass === undefined ? { source: path } : { source: path, passphrase: pass },
  );
  const key = keys[0];
  if (key === undefined) throw new TrailsealError("KEY_INVALID", `no private key in ${path}`);
  return key;
}

export interface Sealing {
  readonly plan: SealingPlan;
  readonly signer: CheckpointSigner | null;
  readonly stamper: Stamper | null;
  readonly identity: SigningIdentity | null;
  /** Closes the sessions of token keys (`--sign-key`/`--tsa-key pkcs11:`). Idempotent. */
  close(): void;
}

/** Token keys opened while resolving, closed together. */
class Opened {
  readonly #signers: TokenSigner[] = [];
  add(signer: TokenSigner): TokenSigner {
    this.#signers.push(signer);
    return signer;
  }
  readonly close = (): void => {
    for (const s of this.#signers.splice(0)) s.close();
  };
}

/** Resolves the policy, signing identity and timestamp source from the flags. */
export async function resolveSealing(flags: SealingFlags, io: Io): Promise<Sealing> {
  const plan = await loadPlan(flags.policy, io);
  const pass = passphrase(flags.passin, io);
  const opened = new Opened();
  try {
    let identity: SigningIdentity | null = null;
    if (plan.signing !== null) identity = await signingIdentity(plan, flags, pass, io, opened);
    else if (flags.signCert !== undefined || flags.signKey !== undefined) {
      say(
        io,
        "warning",
        `policy ${plan.name} does not enable signing; --sign-cert and --sign-key are ignored`,
      );
    }
    warnIgnoredTsaOptions(plan, flags, io);
    const stamper = await stamperFor(plan, flags, pass, io, opened);
    const signer = identity === null ? null : checkpointSigner(identity);
    return { plan, signer, stamper, identity, close: opened.close };
  } catch (e) {
    opened.close();
    throw e;
  }
}

/** The signing identity: from files, a token (`--sign-key pkcs11:`), or the local authority. */
async function signingIdentity(
  plan: SealingPlan,
  flags: SealingFlags,
  pass: string | undefined,
  io: Io,
  opened: Opened,
): Promise<SigningIdentity> {
  let certPath = flags.signCert;
  let keyPath = flags.signKey;
  if (certPath === undefined && keyPath === undefined && flags.home !== undefined) {
    // --home alone: the signing identity `trailseal init` made.
    const home = defaultHome(io.env, io.cwd, flags.home);
    certPath = `${home}/${AUTHORITY_FILES.signer}`;
    keyPath = `${home}/${AUTHORITY_FILES.signerKey}`;
  }
  const onToken = keyPath !== undefined && isPkcs11Uri(keyPath);
  if (keyPath === undefined || (certPath === undefined && !onToken)) {
    throw new TrailsealError(
      "USAGE",
      `policy ${plan.name} enables signing (identity ${plan.signing!.x509Identity}), but no signing certificate and key were given`,
      {
        hint: "pass --sign-cert FILE --sign-key FILE, or --home DIR to use the signing identity 'trailseal init' made",
      },
    );
  }
  const scheme = flags.signPss === true ? { scheme: "pss" as const } : {};
  const certSource = certPath ?? "the token";
  const loaded = onToken
    ? await tokenSigningIdentity(
        opened.add(await openTokenSigner(keyPath, io, flags)),
        certPath === undefined ? null : await readInput(certPath, io),
        { certSource, keySource: keyPath, ...scheme, now: io.now() },
      ).catch((e: unknown) => {
        // A token key without a certificate there: say which option gives one.
        if (certPath !== undefined || !isTrailsealError(e, "KEY_INVALID")) throw e;
        throw e.amend({
          hint: "pass the signing certificate (and its chain) with --sign-cert FILE",
        });
      })
    : await loadSigningIdentity(await readInput(certPath!, io), await readInput(keyPath, io), {
        certSource,
        keySource: keyPath,
        ...(pass === undefined ? {} : { passphrase: pass }),
        ...scheme,
        now: io.now(),
      });
  // A signer outside its validity would make a trail that never verifies: refuse, do not warn.
  const leaf = describeCertificate(loaded.identity.chain[0]!);
  const now = io.now().getTime();
  if (now > Date.parse(leaf.notAfter) || now < Date.parse(leaf.notBefore)) {
    throw new TrailsealError(
      "USAGE",
      `the signing certificate in ${certSource} (${leaf.subject}) is not valid now (valid ${leaf.notBefore} to ${leaf.notAfter}); its signatures would not verify`,
      { hint: "renew the signing certificate ('trailseal init --force' makes a new local one)" },
    );
  }
  for (const w of loaded.warnings) say(io, "warning", w);
  return loaded.identity;
}

/** Options of the other timestamp source would otherwise be dropped without a word. */
function warnIgnoredTsaOptions(plan: SealingPlan, flags: SealingFlags, io: Io): void {
  const ts = plan.timestamping;
  const given = (names: [string, unknown][]): string[] =>
    names.filter(([, v]) => v !== undefined).map(([n]) => n);
  const localOnly = given([
    ["--tsa-cert", flags.tsaCert],
    ["--tsa-key", flags.tsaKey],
    ["--tsa-passin", flags.tsaPassin],
  ]);
  const remoteOnly = given([
    ["--tsa-url", flags.tsaUrl],
    ["--tsa-ca", flags.tsaCa],
    ["--tsa-tls-ca", flags.tsaTlsCa],
  ]);
  const ignored =
    ts === null ? [...localOnly, ...remoteOnly] : ts.selection === "local" ? remoteOnly : localOnly;
  if (ignored.length === 0) return;
  const uses =
    ts === null
      ? "does not enable timestamping"
      : ts.selection === "local"
        ? "uses the local TSA"
        : "uses a remote TSA";
  say(io, "warning", `policy ${plan.name} ${uses}; ${ignored.join(", ")} ignored`);
}

/** The timestamp source the policy asks for: the local TSA, remote TSAs, or none. */
async function stamperFor(
  plan: SealingPlan,
  flags: SealingFlags,
  pass: string | undefined,
  io: Io,
  opened: Opened,
): Promise<Stamper | null> {
  const ts = plan.timestamping;
  if (ts === null) return null;
  if (ts.selection === "local") {
    return localStamper(await localTsa(plan, flags, pass, io, opened), {
      clock: io.now,
      accuracyMillis: 1000,
    });
  }
  const anchors = await loadCertificates(flags.tsaCa ?? [], io);
  const timeout = Number(flags.tsaTimeout ?? "10");
  if (!(timeout > 0))
    throw new TrailsealError(
      "USAGE",
      `--tsa-timeout must be a positive number of seconds, not ${flags.tsaTimeout}`,
    );
  const urls = [ts.url, ...(flags.tsaUrl ?? [])];
  const tlsCa = await tlsTrust(flags.tsaTlsCa ?? [], urls, io);
  return remoteStamper(urls, {
    policyOid: ts.policyOid,
    timeoutMs: timeout * 1000,
    ...(anchors.length === 0 ? {} : { anchors }),
    ...(tlsCa.length === 0 ? {} : { tlsCa }),
  });
}

/** The local TSA's identity: `--tsa-cert`/`--tsa-key` (a file or a token key), or the authority's. */
async function localTsa(
  plan: SealingPlan,
  flags: SealingFlags,
  pass: string | undefined,
  io: Io,
  opened: Opened,
): Promise<TsaIdentity> {
  if (flags.tsaKey !== undefined && isPkcs11Uri(flags.tsaKey)) {
    if (flags.tsaPassin !== undefined)
      throw new TrailsealError("USAGE", "--tsa-passin is for a --tsa-key file, not a token key", {
        hint: "give the token's PIN with --pin or pin-source= in the URI",
      });
    const signer = opened.add(await openTokenSigner(flags.tsaKey, io, flags));
    return tokenTsaIdentity(signer, flags.tsaKey, io, {
      cert: flags.tsaCert,
      certFlag: "--tsa-cert",
    });
  }
  if (flags.tsaCert !== undefined || flags.tsaKey !== undefined) {
    if (flags.tsaCert === undefined || flags.tsaKey === undefined) {
      throw new TrailsealError("USAGE", "--tsa-cert and --tsa-key go together");
    }
    const chain = await readCertificates(await readInput(flags.tsaCert, io), {
      source: flags.tsaCert,
    });
    const tsaPass =
      flags.tsaPassin === undefined ? pass : passphrase(flags.tsaPassin, io, "--tsa-passin");
    try {
      return { chain, key: (await readFirstKey(flags.tsaKey, tsaPass, io)).key };
    } catch (e) {
      // The hint names the option that gave (or could give) this key's passphrase.
      if (!isTrailsealError(e, "KEY_PASSPHRASE")) throw e;
      throw new TrailsealError("KEY_PASSPHRASE", e.message, {
        cause: e,
        hint:
          flags.tsaPassin === undefined
            ? "give the TSA key's passphrase with --tsa-passin (--passin is tried when it is absent)"
            : "check the passphrase given with --tsa-passin",
      });
    }
  }
  if (flags.tsaPassin !== undefined)
    throw new TrailsealError("USAGE", "--tsa-passin goes with --tsa-key", {
      hint: "the local authority's keys are not encrypted; --tsa-passin is for a --tsa-key file",
    });
  const home = defaultHome(io.env, io.cwd, flags.home);
  try {
    return (await loadAuthority(home, { now: io.now() })).tsa;
  } catch (e) {
    throw new TrailsealError(
      "USAGE",
      `policy ${plan.name} uses the local TSA, but no local authority could be loaded from ${home}`,
      {
        cause: e,
        hint: "run 'trailseal init' first (or pass --home DIR, or --tsa-cert FILE --tsa-key FILE)",
      },
    );
  }
}

/**
 * A TSA identity with its key on a token: the certificate chain from `files.cert` (leaf first), or
 * the certificate the token holds with the key's id (`tokenCertificates`), then `files.chain`.
 * Shared by `--tsa-key` and `tsa serve --key`.
 */
export async function tokenTsaIdentity(
  signer: TokenSigner,
  uri: string,
  io: Io,
  files: { cert: string | undefined; certFlag: string; chain?: string },
): Promise<TsaIdentity> {
  const certBytes = files.cert === undefined ? null : await readInput(files.cert, io);
  const source = { certSource: files.cert ?? "the token", keySource: uri };
  const chain = await tokenCertificates(signer, certBytes, source).catch((e: unknown) => {
    // A token key without a certificate there: say which option gives one.
    if (files.cert !== undefined || !isTrailsealError(e, "KEY_INVALID")) throw e;
    throw e.amend({ hint: `pass the TSA certificate with ${files.certFlag} FILE` });
  });
  if (files.chain !== undefined) chain.push(...(await loadCertificates([files.chain], io)));
  return { chain, key: signer };
}
