import { defaultHome, initAuthority, type AuthorityKeyType } from "../authority.js";
import { TrailsealError } from "../errors.js";
import { EXIT_OK, newCommand, runCommand, type Io } from "./io.js";

interface InitFlags {
  home?: string;
  force?: boolean;
  keyType: string;
  json?: boolean;
}

/** `trailseal init`: create the local authority (CA, TSA certificate, signing identity). */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = newCommand("trailseal init", io)
    .description(
      "Create the local authority: a self-signed CA, a TSA certificate it issues (EKU " +
        "timeStamping, critical) for local timestamping, and a code-signing identity, as SPS " +
        "creates its internal CA and TSA certificate at set-up.",
    )
    .option("--home <dir>", "where to create it (default $TRAILSEAL_HOME, else ~/.trailseal)")
    .option(
      "--force",
      "replace an existing authority (its tokens will no longer chain to the new CA)",
    )
    .option("--key-type <type>", "rsa (CA 3072, others 2048 bits) or ec (P-256)", "rsa")
    .option("--json", "print what was created as JSON");
  cmd.addHelpText(
    "after",
    `
Files (private keys are PKCS#8 PEM with mode 0600 and are never overwritten without --force):
  ca.crt, ca.key          the CA; ca.crt is the anchor for --tsa-ca and signature checks
  tsa.crt, tsa.key        the local TSA (tsa.crt holds the TSA certificate, then the CA)
  signer.crt, signer.key  the signing identity (EKU codeSigning), then the CA

Examples:
  trailseal init
  trailseal init --home ./authority --key-type ec
  TRAILSEAL_HOME=/srv/trailseal trailseal init --force

Exit status: 0 created, 2 usage or I/O error (an authority already exists without --force).
`,
  );
  return runCommand<InitFlags>(cmd, argv, io, async (flags) => {
    if (flags.keyType !== "rsa" && flags.keyType !== "ec") {
      throw new TrailsealError("USAGE", `--key-type must be rsa or ec, not ${flags.keyType}`);
    }
    const home = defaultHome(io.env, io.cwd, flags.home);
    const result = await initAuthority(home, {
      now: io.now(),
      force: flags.force === true,
      keyType: flags.keyType as AuthorityKeyType,
    });
    if (flags.json === true) {
      io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      io.stdout.write(
        [
          `created the local authority in ${result.home} (${result.keyType === "rsa" ? "RSA" : "ECDSA P-256"} keys)`,
          `  CA      ca.crt      sha256:${result.fingerprints.ca}`,
          `  TSA     tsa.crt     sha256:${result.fingerprints.tsa}`,
          `  signer  signer.crt  sha256:${result.fingerprints.signer}`,
          `verify local timestamps with --tsa-ca ${result.home}/ca.crt`,
          "",
        ].join("\n"),
      );
    }
    return EXIT_OK;
  });
}
