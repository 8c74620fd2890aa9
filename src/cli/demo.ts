/**
 * `trailseal demo [DIR]`: the whole story on a fresh machine, printing each equivalent command
 * before running it, so a user can learn by copying.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { PassThrough } from "node:stream";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TrailsealError } from "../errors.js";
import { selfSignedEncryptionCertificate } from "../authority.js";
import { writePrivateKeyFile } from "../keys.js";
import { toPem } from "../pem.js";
import { commandLine } from "../record/pty.js";
import type { Command } from "commander";
import { EXIT_FAILED, EXIT_OK, newCommand, runCommand, type Io } from "./io.js";
import { run as runMain } from "./main.js";

interface DemoFlags {
  force?: boolean;
}

/** The bundled sample: a short administration session with typed passwords (asciicast v2). */
function sampleRecording(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/cli or dist/cli → the package root
  return resolve(here, "..", "..", "testdata", "recordings", "admin-session.cast");
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = demoCommand(io);
  return runCommand<DemoFlags>(cmd, argv, io, async (flags) => {
    const force = flags.force === true;
    const [dirArg] = cmd.args as [string | undefined];
    const dir = resolve(io.cwd, dirArg ?? "trailseal-demo");
    await prepareDirectory(dir, dirArg ?? "trailseal-demo", force);
    const started = Date.now();
    await story(io, dir, force);
    io.stdout.write(
      `\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s. Next:\n` +
        `  cd ${dir}\n` +
        "  asciinema play replay.cast          # the session, with keystrokes\n" +
        "  npx trailseal replay session.trail --key alice.key --key bob.key --play\n" +
        "  cat evidence/VERIFY.txt             # the openssl commands\n",
    );
    return EXIT_OK;
  });
}

/** The demo command and its flags. */
function demoCommand(io: Io): Command {
  return newCommand("trailseal demo", io)
    .description(
      "run the whole story in a new directory: authority, auditors, policy, seal, verify, replay",
    )
    .argument("[dir]", "directory to create (must be empty or new)", "trailseal-demo")
    .option(
      "--force",
      "run in a directory that is not empty, replacing the files of an earlier demo there",
    )
    .addHelpText(
      "after",
      `
Example:
  npx trailseal demo && cd trailseal-demo && asciinema play replay.cast

Creates a local authority (CA, TSA, signing identity), auditors alice and bob (four-eyes) and an
upstream officer, a policy (four-eyes downstream, separate upstream, signed, locally
timestamped, interval 10 s); seals a bundled administration session, verifies it, replays it
with both keys, and shows that one key alone is refused and that keystrokes stay hidden
without the officer's key.
Exit status: 0 done, 2 the directory is not empty (without --force) or a step failed.`,
    );
}

/** Creates the demo's directory; refuses one others may write, or (without `force`) not empty. */
async function prepareDirectory(dir: string, name: string, force: boolean): Promise<void> {
  // Private keys go here: not writable by others, whatever the umask (0755 less the umask).
  await mkdir(dir, { recursive: true, mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
    throw new TrailsealError(
      "IO",
      e.code === "EEXIST"
        ? `${name} is not a directory`
        : e.code === "ENOTDIR"
          ? `cannot create the directory ${name}: part of its path is a file`
          : `cannot create the directory ${name} (${e.code ?? e.message})`,
      { cause: e },
    );
  });
  const mode = (await stat(dir)).mode & 0o777;
  if ((mode & 0o002) !== 0) {
    throw new TrailsealError(
      "IO",
      `${name} is writable by other users (mode ${mode.toString(8)}); they could replace the demo's keys and certificates`,
      { hint: `chmod o-w ${name}, or give a new directory` },
    );
  }
  if (!force && (await readdir(dir)).length > 0) {
    throw new TrailsealError("IO", `${name} is not empty`, {
      hint: "give a new directory (trailseal demo DIR) or pass --force",
    });
  }
}

/** The demo's steps, in `dir`: each titled, its command echoed, what it prints indented. */
async function story(io: Io, dir: string, force: boolean): Promise<void> {
  const out = (s: string) => io.stdout.write(s);
  const step = (title: string, args: string[], expect = EXIT_OK) =>
    runStep(io, dir, title, args, expect);
  // Each step: its title, then the command line as a user would type it (words split on spaces).
  // With --force, the steps that write pass it on, so an earlier demo's files are replaced.
  const f = force ? " --force" : "";
  const words = (line: string) => line.split(" ");
  out(`trailseal demo in ${dir}\n`);
  await step(
    "1. A local authority: CA, TSA certificate (EKU timeStamping, critical) and signing identity",
    words(`init --home authority${f}`),
  );

  out(
    "\n# 2. Auditors alice and bob (four-eyes), and an upstream officer: RSA-2048 encryption certificates\n",
  );
  for (const who of ["alice", "bob", "officer"]) {
    out(
      `$ openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/O=trailseal demo/CN=${who}" -keyout ${who}.key -out ${who}.crt\n`,
    );
    await makeAuditor(dir, who, io.now(), force);
  }
  out("  (made in-process; the command above makes the same kind of certificate)\n");

  await step(
    "3. The audit policy, as the SPS REST API takes it (four-eyes downstream, separate upstream, signed, local timestamps every 10 s)",
    words(
      "policy create --name demo-audit --encrypt alice.crt,bob.crt --upstream officer.crt " +
        "--sign-identity demo-signer --timestamp local --interval 10 -o policy.json",
    ),
  );
  await step("   …and checked before it is posted", words("policy check policy.json"));
  await step("4. Seal a recorded administration session (asciicast v2 with keystrokes)", [
    ...words("seal --policy policy.json --home authority"),
    sampleRecording(),
    ...words(`-o session.trail${f}`),
  ]);
  await step("5. What anyone can see without a key", words("inspect session.trail"));
  await step(
    "6. Verify without any decryption key: integrity, completeness, signatures, timestamps",
    words("verify session.trail --ca authority/ca.crt --tsa-ca authority/ca.crt"),
  );
  await step(
    "7. Replay with both four-eyes keys and the officer's: screen and keystrokes",
    words(
      `replay session.trail --ca authority/ca.crt --key alice.key --key bob.key --key officer.key -o replay.cast${f}`,
    ),
  );
  await step(
    "8. One four-eyes key alone is refused",
    words(`replay session.trail --ca authority/ca.crt --key alice.key -o refused.cast${f}`),
    EXIT_FAILED,
  );
  await step(
    "9. Without the officer's key the screen replays, but the keystrokes stay hidden",
    words(
      `replay session.trail --ca authority/ca.crt --key alice.key --key bob.key -o screen-only.cast${f}`,
    ),
  );
  await step(
    "10. Everything a third party needs to check the trail with openssl alone",
    words(`export session.trail evidence${f}`),
  );
}

/** Runs a trailseal command in `dir`, echoing it and indenting what it prints. */
async function runStep(
  io: Io,
  dir: string,
  title: string,
  args: string[],
  expect: number,
): Promise<void> {
  const out = (s: string) => io.stdout.write(s);
  out(`\n# ${title}\n$ trailseal ${commandLine(args)}\n`);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on("data", (c: Buffer) => chunks.push(c));
  stderr.on("data", (c: Buffer) => chunks.push(c));
  const code = await runMain(args, {
    ...io,
    stdout,
    stderr,
    cwd: dir,
    stdoutIsTTY: false,
    stderrIsTTY: false,
  });
  stdout.end();
  stderr.end();
  await new Promise((r) => setImmediate(r));
  const text = Buffer.concat(chunks).toString("utf8").trimEnd();
  if (text !== "")
    out(
      `${text
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n")}\n`,
    );
  if (code !== expect) {
    throw new TrailsealError("USAGE", `demo step "${title}" exited ${code}, expected ${expect}`);
  }
  if (code !== EXIT_OK) out(`  (exit status ${code}, as expected)\n`);
}

async function makeAuditor(dir: string, who: string, now: Date, force: boolean): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const der = await selfSignedEncryptionCertificate(
    `CN=${who}, O=trailseal demo`,
    { publicKey, privateKey },
    now,
    (n) => new Uint8Array(randomBytes(n)),
  );
  await writeFile(join(dir, `${who}.crt`), toPem(der), { mode: 0o644 });
  await writePrivateKeyFile(
    join(dir, `${who}.key`),
    privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    { force },
  );
}
