import type { ListedObject, ListedToken, Listing } from "../pkcs11/list.js";
import { readPassin } from "./files.js";
import { EXIT_OK, newCommand, runCommand, say, type Io } from "./io.js";
import { oneSubcommand, printable } from "./common.js";

interface ListFlags {
  pkcs11Module?: string;
  pin?: string;
  json?: boolean;
}

const USAGE = `Usage: trailseal keys list [pkcs11-uri] [options]

Show the keys and certificates on PKCS#11 tokens (smart cards, HSMs, SoftHSM), each with the
sha256 fingerprint trailseal names recipients by and the URI to pass as a key.
Run 'trailseal keys list --help' for its options.
`;

/** `trailseal keys list`: the tokens of a PKCS#11 module and what they hold. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const hint = "trailseal keys list --pkcs11-module /usr/lib/softhsm/libsofthsm2.so";
  const rest = oneSubcommand(argv, io, "list", USAGE, hint);
  return typeof rest === "number" ? rest : list(rest, io);
}

function keyWords(o: ListedObject): string {
  if (o.keyType === null) return "unknown key type";
  return o.keyType === "EC" ? `EC ${o.curve ?? `${o.bits ?? "?"}-bit`}` : `RSA ${o.bits ?? "?"}`;
}

const KIND_WORDS: Record<ListedObject["kind"], string> = {
  "private-key": "private key",
  "public-key": "public key",
  certificate: "certificate",
};

function objectLines(o: ListedObject): string[] {
  const what = o.kind === "certificate" ? `${o.subject ?? ""} (${keyWords(o)})` : keyWords(o);
  const fp =
    o.spkiFingerprint === null ? "no public key on the token" : `sha256:${o.spkiFingerprint}`;
  return [
    `  ${KIND_WORDS[o.kind]} "${o.label}", id ${o.id === "" ? "none" : o.id}: ${what}`,
    `    ${fp}`,
    `    ${o.uri}`,
  ];
}

function tokenLines(t: ListedToken): string[] {
  const state = t.loggedIn ? "logged in" : "not logged in (give --pin to see private keys)";
  const lines = [
    `token "${t.label}": slot ${t.slotId}, serial ${t.serial === "" ? "none" : t.serial}, ${t.manufacturer} ${t.model}; ${state}`,
  ];
  if (t.objects.length === 0) lines.push("  (no keys or certificates)");
  for (const o of t.objects) lines.push(...objectLines(o));
  return lines;
}

function human(l: Listing): string {
  const m = l.module;
  const lines = [`pkcs11 module ${m.path}: ${m.description} ${m.version} (${m.manufacturer})`];
  if (l.tokens.length === 0) lines.push("no initialized token");
  for (const t of l.tokens) lines.push(...tokenLines(t));
  // Labels and subjects come from the token: anyone who could write to it chose them.
  return `${lines.map(printable).join("\n")}\n`;
}

async function list(argv: readonly string[], io: Io): Promise<number> {
  const cmd = newCommand("trailseal keys list", io)
    .description(
      "show the tokens of a PKCS#11 module and the keys and certificates on them, with the sha256 " +
        "SubjectPublicKeyInfo fingerprint trailseal names recipients by and the PKCS#11 URI (RFC 7512) " +
        "that names each. Without a PIN the token shows its public objects; with one, its private keys too.",
    )
    .argument("[pkcs11-uri]", "list only the tokens this URI selects (e.g. pkcs11:token=alice)")
    .option(
      "--pkcs11-module <file>",
      "the PKCS#11 module (.so); else module-path= in the URI, else $TRAILSEAL_PKCS11_MODULE",
    )
    .option("--pin <source>", "the user PIN of the one token listed: env:VAR or file:PATH")
    .option("--json", "print a JSON object")
    .addHelpText(
      "after",
      `
Examples:
  trailseal keys list --pkcs11-module /usr/lib/softhsm/libsofthsm2.so
  TRAILSEAL_PKCS11_MODULE=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so trailseal keys list
  trailseal keys list 'pkcs11:token=alice' --pin env:ALICE_PIN --json

Exit status: 0 listed, 2 usage error, no module, no such token, or a wrong PIN.`,
    );
  return runCommand<ListFlags>(cmd, argv, io, async (flags) => {
    const [uri] = cmd.args as [string | undefined];
    const pin = flags.pin === undefined ? undefined : readPassin(flags.pin, io, "--pin");
    // The binding is loaded only here, when a token is asked for.
    const { listTokens } = await import("../pkcs11/list.js");
    const listing = await listTokens({
      env: io.env,
      cwd: io.cwd,
      ...(flags.pkcs11Module === undefined ? {} : { module: flags.pkcs11Module }),
      ...(pin === undefined ? {} : { pin }),
      ...(uri === undefined ? {} : { uri }),
    });
    for (const w of listing.warnings) say(io, "warning", w);
    const json = { module: listing.module, tokens: listing.tokens };
    io.stdout.write(flags.json === true ? `${JSON.stringify(json, null, 2)}\n` : human(listing));
    return EXIT_OK;
  });
}
