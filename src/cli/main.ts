import { createRequire } from "node:module";
import type { Io } from "./io.js";
import { EXIT_OK, EXIT_USAGE, say } from "./voice.js";

/** A command of the CLI: its one-line summary, an example, and its module (loaded lazily). */
interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  readonly example: string;
  readonly load: () => Promise<{ run: (argv: readonly string[], io: Io) => Promise<number> }>;
}

/** Every command; one file each under src/cli/. Add a line here when a command lands. */
const COMMANDS: readonly CommandEntry[] = [
  {
    name: "demo",
    summary: "run the whole story in a new directory (authority, auditors, seal, verify, replay)",
    example: "trailseal demo ./trailseal-demo",
    load: () => import("./demo.js"),
  },
  {
    name: "pem",
    summary: "print the certificates of any file clean, as PEM or as SPS API strings",
    example: "trailseal pem --api auditor.p12 --passin env:P12_PASS",
    load: () => import("./pem.js"),
  },
  {
    name: "policy",
    summary: "create an SPS audit policy (8.0 LTS) or check one: body, REST object or list",
    example: "trailseal policy create --name audit --encrypt alice.pem,bob.pem --timestamp local",
    load: () => import("./policy.js"),
  },
  {
    name: "seal",
    summary: "seal a recording (asciicast, script log, raw) into an encrypted, signed trail",
    example: "trailseal seal --policy audit.json session.cast -o session.trail",
    load: () => import("./seal.js"),
  },
  {
    name: "record",
    summary:
      "run a command in a pseudo-terminal and seal the session live (signed on the wall clock)",
    example: "trailseal record --policy audit.json -o s.trail -- ssh admin@db1",
    load: () => import("./record.js"),
  },
  {
    name: "replay",
    summary:
      "decrypt a trail for replay with one or both keys (asciicast, raw, jsonl, script, --play)",
    example: "trailseal replay session.trail --key alice.key --key bob.key -o session.cast",
    load: () => import("./replay.js"),
  },
  {
    name: "inspect",
    summary: "show a trail's header, channels and recipients without any key",
    example: "trailseal inspect session.trail",
    load: () => import("./inspect.js"),
  },
  {
    name: "share",
    summary: "give a third party access to a trail by adding stanzas for the same file keys",
    example: "trailseal share session.trail --key alice.key --to carol.crt -o shared.trail",
    load: () => import("./share.js"),
  },
  {
    name: "unwrap",
    summary: "open a four-eyes stanza's outer layer alone and write the inner envelope (CMS)",
    example: "trailseal unwrap evidence/stanza-downstream-0.der --key bob.key -o inner.cms",
    load: () => import("./unwrap.js"),
  },
  {
    name: "verify",
    summary: "verify trails without any key: integrity, completeness, signatures, timestamps",
    example: "trailseal verify session.trail --ca ca.crt --tsa-ca ca.crt",
    load: () => import("./verify.js"),
  },
  {
    name: "scan",
    summary: "search sealed trails as SPS content policies do (commands, screen, cards)",
    example: "trailseal scan --policy content.json s.trail --key auditor.key --ca ca.crt",
    load: () => import("./scan.js"),
  },
  {
    name: "summary",
    summary:
      "combine the --jsonl outputs of many verify runs (shards) into one summary and exit status",
    example: "trailseal summary shard-*.jsonl",
    load: () => import("./summary.js"),
  },
  {
    name: "export",
    summary: "write a trail's signatures, tokens and stanzas out for checking with openssl alone",
    example: "trailseal export session.trail evidence/",
    load: () => import("./export.js"),
  },
  {
    name: "init",
    summary: "create the local authority: CA, TSA certificate (timeStamping) and signing identity",
    example: "trailseal init --home ~/.trailseal --key-type ec",
    load: () => import("./init.js"),
  },
  {
    name: "stamp",
    summary: "RFC 3161-timestamp any file (local TSA or URL), or verify a .tsr in full",
    example: "trailseal stamp report.pdf --tsa local -o report.pdf.tsr",
    load: () => import("./stamp.js"),
  },
  {
    name: "keys",
    summary: "list the keys and certificates on PKCS#11 tokens (smart cards, HSMs)",
    example: "trailseal keys list --pkcs11-module /usr/lib/softhsm/libsofthsm2.so",
    load: () => import("./keys.js"),
  },
  {
    name: "tsa",
    summary: "run an RFC 3161 time-stamp server (tsa serve)",
    example: "trailseal tsa serve --cert tsa.crt --key tsa.key --port 3161",
    load: () => import("./tsa.js"),
  },
];

function version(): string {
  const require = createRequire(import.meta.url);
  const pkg = require("../../package.json") as { version: string };
  return pkg.version;
}

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = [
    "Usage: trailseal <command> [options]",
    "",
    "Cryptography of privileged-session audit trails (SPS audit policies, sealed recordings).",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Examples:",
    ...COMMANDS.map((c) => `  ${c.example}`),
    "",
    "Run 'trailseal <command> --help' for a command's options.",
    "Exit status: 0 success, 1 a check failed, 2 usage or I/O error.",
    "",
  ];
  return lines.join("\n");
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
    io.stderr.write(usage());
    return EXIT_USAGE;
  }
  if (first === "--help" || first === "-h" || first === "help") {
    if (first === "help" && rest[0] !== undefined) return dispatch([rest[0], "--help"], io);
    io.stdout.write(usage());
    return EXIT_OK;
  }
  if (first === "--version" || first === "-V") {
    io.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  const entry = COMMANDS.find((c) => c.name === first);
  if (entry === undefined) {
    say(io, "error", `unknown ${first.startsWith("-") ? "option" : "command"} '${first}'`);
    say(io, "hint", "run 'trailseal --help' for the list of commands");
    return EXIT_USAGE;
  }
  const command = await entry.load();
  return command.run(rest, io);
}
