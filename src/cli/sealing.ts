/**
 * The sealing options shared by `seal` and `record`: the policy, the signing identity and the
 * timestamp source, turned into trail-writer options.
 */
import { randomBytes } from "node:crypto";
import type { Command } from "commander";
import { isTrailsealError, TrailsealError } from "../errors.js";
import type { SealingPlan } from "../policy.js";
import { AUTHORITY_FILES, defaultHome, loadAuthority } from "../authority.js";
import { describeCertificate, readCertificates } from "../pem.js";
import { readPrivateKeys } from "../keys.js";
import {
  checkpointSigner,
  loadSigningIdentity,
  type CheckpointSigner,
  type SigningIdentity,
} from "../sign.js";
import { LOCAL_POLICY_OID, localStamper, serialSource, type Stamper } from "../timestamp/token.js";
import { remoteStamper, shownUrl } from "../timestamp/client.js";
import { collect, say, type Io } from "./io.js";
import { loadCertificates, loadPlan, passphrase } from "./common.js";
import { readInput } from "./files.js";

export interface SealingFlags {
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
  return cmd
    .requiredOption("--policy <file>", "audit policy (as 'trailseal policy create' writes it)")
    .option("--sign-cert <file>", "signing certificate, leaf first, then intermediates")
    .option("--sign-key <file>", "private key of the signing certificate")
    .option(
      "--sign-pss",
      "sign with RSASSA-PSS (SHA-256, MGF1-SHA-256) instead of PKCS#1 v1.5 (RSA keys)",
    )
    .option("--passin <spec>", "passphrase for encrypted keys: env:VAR, file:PATH or pass:TEXT")
    .option(
      "--home <dir>",
      "local authority for local timestamping (default $TRAILSEAL_HOME or ~/.trailseal)",
    )
    .option("--tsa-cert <file>", "local TSA certificate chain, instead of the authority's")
    .option("--tsa-key <file>", "local TSA private key, instead of the authority's")
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
}

/** Resolves the policy, signing identity and timestamp source from the flags. */
export async function resolveSealing(flags: SealingFlags, io: Io): Promise<Sealing> {
  const plan = await loadPlan(flags.policy, io);
  const pass = passphrase(flags.passin, io);
  let identity: SigningIdentity | null = null;
  if (plan.signing !== null) {
    let certPath = flags.signCert;
    let keyPath = flags.signKey;
    if (certPath === undefined && keyPath === undefined && flags.home !== undefined) {
      // --home alone: the signing identity `trailseal init` made.
      const home = defaultHome(io.env, io.cwd, flags.home);
      certPath = `${home}/${AUTHORITY_FILES.signer}`;
      keyPath = `${home}/${AUTHORITY_FILES.signerKey}`;
    }
    if (certPath === undefined || keyPath === undefined) {
      throw new TrailsealError(
        "USAGE",
        `policy ${plan.name} enables signing (identity ${plan.signing.x509Identity}), but no signing certificate and key were given`,
        {
          hint: "pass --sign-cert FILE --sign-key FILE, or --home DIR to use the signing identity 'trailseal init' made",
        },
      );
    }
    const loaded = await loadSigningIdentity(
      await readInput(certPath, io),
      await readInput(keyPath, io),
      {
        certSource: certPath,
        keySource: keyPath,
        ...(pass === undefined ? {} : { passphrase: pass }),
        ...(flags.signPss === true ? { scheme: "pss" as const } : {}),
        now: io.now(),
      },
    );
    // A signer outside its validity would make a trail that never verifies: refuse, do not warn.
    const leaf = describeCertificate(loaded.identity.chain[0]!);
    const now = io.now().getTime();
    if (now > Date.parse(leaf.notAfter) || now < Date.parse(leaf.notBefore)) {
      throw new TrailsealError(
        "USAGE",
        `the signing certificate in ${certPath} (${leaf.subject}) is not valid now (valid ${leaf.notBefore} to ${leaf.notAfter}); its signatures would not verify`,
        { hint: "renew the signing certificate ('trailseal init --force' makes a new local one)" },
      );
    }
    for (const w of loaded.warnings) say(io, "warning", w);
    identity = loaded.identity;
  } else if (flags.signCert !== undefined || flags.signKey !== undefined) {
    say(
      io,
      "warning",
      `policy ${plan.name} does not enable signing; --sign-cert and --sign-key are ignored`,
    );
  }

  let stamper: Stamper | null = null;
  const ts = plan.timestamping;
  // Options of the other timestamp source would otherwise be dropped without a word.
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
  if (ignored.length > 0) {
    const uses =
      ts === null
        ? "does not enable timestamping"
        : ts.selection === "local"
          ? "uses the local TSA"
          : "uses a remote TSA";
    say(io, "warning", `policy ${plan.name} ${uses}; ${ignored.join(", ")} ignored`);
  }
  if (ts !== null && ts.selection === "local") {
    let chain: Uint8Array[];
    let key;
    if (flags.tsaCert !== undefined || flags.tsaKey !== undefined) {
      if (flags.tsaCert === undefined || flags.tsaKey === undefined) {
        throw new TrailsealError("USAGE", "--tsa-cert and --tsa-key go together");
      }
      chain = await readCertificates(await readInput(flags.tsaCert, io), { source: flags.tsaCert });
      const tsaPass =
        flags.tsaPassin === undefined ? pass : passphrase(flags.tsaPassin, io, "--tsa-passin");
      try {
        key = (await readFirstKey(flags.tsaKey, tsaPass, io)).key;
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
    } else {
      if (flags.tsaPassin !== undefined)
        throw new TrailsealError("USAGE", "--tsa-passin goes with --tsa-key", {
          hint: "the local authority's keys are not encrypted; --tsa-passin is for a --tsa-key file",
        });
      const home = defaultHome(io.env, io.cwd, flags.home);
      try {
        ({ chain, key } = (await loadAuthority(home, { now: io.now() })).tsa);
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
    stamper = localStamper(
      { chain, key },
      {
        clock: io.now,
        serial: serialSource((n) => new Uint8Array(randomBytes(n))),
        policyOid: LOCAL_POLICY_OID,
        accuracyMillis: 1000,
      },
    );
  } else if (ts !== null && ts.selection === "remote") {
    const anchors = await loadCertificates(flags.tsaCa ?? [], io);
    const timeout = Number(flags.tsaTimeout ?? "10");
    if (!(timeout > 0))
      throw new TrailsealError(
        "USAGE",
        `--tsa-timeout must be a positive number of seconds, not ${flags.tsaTimeout}`,
      );
    const urls = [ts.url, ...(flags.tsaUrl ?? [])];
    const tlsCa = await tlsTrust(flags.tsaTlsCa ?? [], urls, io);
    stamper = remoteStamper(urls, {
      policyOid: ts.policyOid,
      timeoutMs: timeout * 1000,
      ...(anchors.length === 0 ? {} : { anchors }),
      ...(tlsCa.length === 0 ? {} : { tlsCa }),
    });
  }
  return { plan, signer: identity === null ? null : checkpointSigner(identity), stamper, identity };
}
