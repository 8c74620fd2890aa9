import { createRequire } from "node:module";
import type { Io } from "./io.js";
import { EXIT_OK, EXIT_USAGE, say } from "./voice.js";

/** A command's module, loaded only when that command runs. */
type Loader = () => Promise<{ run: (argv: readonly string[], io: Io) => Promise<number> }>;

/**
 * `trailseal --help`: one line and one example per command. Add both when a command lands, and
 * its loader below; test/cli.test.ts checks that the two lists name the same commands in the same
 * order.
 */
const USAGE = `Usage: trailseal <command> [options]

Cryptography of privileged-session audit trails (SPS audit policies, sealed recordings).

Commands:
  demo     run the whole story in a new directory (authority, auditors, seal, verify, replay)
  pem      print the certificates of any file clean, as PEM or as SPS API strings
  policy   create an SPS audit policy (8.0 LTS) or check one: body, REST object or list
  seal     seal a recording (asciicast, script log, raw) into an encrypted, signed trail
  record   run a command in a pseudo-terminal and seal the session live (signed on the wall clock)
  replay   decrypt a trail for replay with one or both keys (asciicast, raw, jsonl, script, --play)
  inspect  show a trail's header, channels and recipients without any key
  share    give a third party access to a trail by adding stanzas for the same file keys
  unwrap   open a four-eyes stanza's outer layer alone and write the inner envelope (CMS)
  verify   verify trails without any key: integrity, completeness, signatures, timestamps
  scan     search sealed trails as SPS content policies do (commands, screen, cards)
  summary  combine the --jsonl outputs of many verify runs (shards) into one summary and exit status
  export   write a trail's signatures, tokens and stanzas out for checking with openssl alone
  init     create the local authority: CA, TSA certificate (timeStamping) and signing identity
  stamp    RFC 3161-timestamp any file (local TSA or URL), or verify a .tsr in full
  keys     list the keys and certificates on PKCS#11 tokens (smart cards, HSMs)
  tsa      run an RFC 3161 time-stamp server (tsa serve)

Examples:
  trailseal demo ./trailseal-demo
  trailseal pem --api auditor.p12 --passin env:P12_PASS
  trailseal policy create --name audit --encrypt alice.pem,bob.pem --timestamp local
  trailseal seal --policy audit.json session.cast -o session.trail
  trailseal record --policy audit.json -o s.trail -- ssh admin@db1
  trailseal replay session.trail --key alice.key --key bob.key -o session.cast
  trailseal inspect session.trail
  trailseal share session.trail --key alice.key --to carol.crt -o shared.trail
  trailseal unwrap evidence/stanza-downstream-0.der --key bob.key -o inner.cms
  trailseal verify session.trail --ca ca.crt --tsa-ca ca.crt
  trailseal scan --policy content.json s.trail --key auditor.key --ca ca.crt
  trailseal summary shard-*.jsonl
  trailseal export session.trail evidence/
  trailseal init --home ~/.trailseal --key-type ec
  trailseal stamp report.pdf --tsa local -o report.pdf.tsr
  trailseal keys list --pkcs11-module /usr/lib/softhsm/libsofthsm2.so
  trailseal tsa serve --cert tsa.crt --key tsa.key --port 3161

Run 'trailseal <command> --help' for a command's options.
Exit status: 0 success, 1 a check failed, 2 usage or I/O error.
`;

/** Every command, one file each under src/cli/, in the order of USAGE. */
const LOADERS: Readonly<Record<string, Loader>> = {
  demo: () => import("./demo.js"),
  pem: () => import("./pem.js"),
  policy: () => import("./policy.js"),
  seal: () => import("./seal.js"),
  record: () => import("./record.js"),
  replay: () => import("./replay.js"),
  inspect: () => import("./inspect.js"),
  share: () => import("./share.js"),
  unwrap: () => import("./unwrap.js"),
  verify: () => import("./verify.js"),
  scan: () => import("./scan.js"),
  summary: () => import("./summary.js"),
  export: () => import("./export.js"),
  init: () => import("./init.js"),
  stamp: () => import("./stamp.js"),
  keys: () => import("./keys.js"),
  tsa: () => import("./tsa.js"),
};

/** The commands, in the order `trailseal --help` lists them. */
export const COMMAND_NAMES: readonly string[] = Object.keys(LOADERS);

function version(): string {
  const require = createRequire(import.meta.url);
  const pkg = require("../../package.json") as { version: string };
  return pkg.version;
}

/** The CLI: parses argv (without node and script), runs one command, returns the exit code. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  return watchingOutput(io, () => dispatch(argv, io));
}

/**
 * Runs `work` with the output streams watched. A write that fails (a full disk, an I/O error)
 * would otherwise be an unhandled 'error' event: a stack trace and exit 1, which here means "a
 * check failed". It becomes an I/O error in the one voice, exit 2. A reader that went away
 * (`trailseal pem … | head -1`, EPIPE) chose to stop reading: the output ends quietly and the
 * command's own status stands.
 */
async function watchingOutput(io: Io, work: () => Promise<number>): Promise<number> {
  let failure: (Error & { code?: string }) | undefined;
  // The listeners stay: an error may still arrive after the last write of the process.
  io.stdout.on("error", (e: Error & { code?: string }) => {
    failure ??= e;
  });
  // Failures are reported on stderr; when stderr itself fails there is no one left to tell.
  io.stderr.on("error", () => {});
  let code = await work();
  if (!io.stdout.writableEnded && !io.stdout.destroyed) {
    await new Promise<void>((resolve) => io.stdout.write("", () => resolve()));
  }
  await new Promise((resolve) => setImmediate(resolve));
  if (failure !== undefined && failure.code !== "EPIPE") {
    say(io, "error", `cannot write to stdout: ${failure.message}`);
    code = EXIT_USAGE;
  }
  return code;
}

async function dispatch(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    // No command is a usage error: the usage goes where errors go, as with 'trailseal policy'.
    io.stderr.write(USAGE);
    return EXIT_USAGE;
  }
  if (first === "--help" || first === "-h" || first === "help") {
    if (first === "help" && rest[0] !== undefined) return dispatch([rest[0], "--help"], io);
    io.stdout.write(USAGE);
    return EXIT_OK;
  }
  if (first === "--version" || first === "-V") {
    io.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  const load = Object.hasOwn(LOADERS, first) ? LOADERS[first] : undefined;
  if (load === undefined) {
    say(io, "error", `unknown ${first.startsWith("-") ? "option" : "command"} '${first}'`);
    say(io, "hint", "run 'trailseal --help' for the list of commands");
    return EXIT_USAGE;
  }
  const command = await load();
  return command.run(rest, io);
}
