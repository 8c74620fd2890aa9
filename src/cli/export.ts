import { mkdir, readdir, stat, unlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { TrailsealError, isTrailsealError } from "../errors.js";
import { fromBase64, utf8 } from "../bytes.js";
import { commitmentLabel } from "../frames.js";
import { claimedSigningTime, signatureValue } from "../sign.js";
import { tokenGenTime } from "../timestamp/verify.js";
import type { StanzaLayer } from "../recipients.js";
import type { TrailAnnex, TrailHeader } from "../trail/format.js";
import { TrailReader, type CheckpointRecord, type StampRecord } from "../trail/reader.js";
import type { Command } from "commander";
import { EXIT_OK, newCommand, runCommand, say, type Io } from "./io.js";
import { inputStream } from "./common.js";
import { inputName } from "./files.js";

interface ExportFlags {
  force?: boolean;
}

/** The names export writes (and, with --force, removes first). */
const EXPORTED =
  /^(header\.json|VERIFY\.txt|checkpoint-\d+\.(txt|p7s|sig|tst)|stanza-[a-z]+-(added-)?\d+\.der|commitment-label-[a-z]+\.txt)$/;

const pad = (n: number) => String(n).padStart(3, "0");

/**
 * openssl checks certificates at the current time unless told otherwise, so a trail whose signer
 * or TSA certificate has expired since would fail although it was valid when made. Check at the
 * instant the signature or token speaks for, as `trailseal verify` does (openssl `-attime`).
 */
const attime = (d: Date | null) => (d === null ? "" : ` -attime ${Math.floor(d.getTime() / 1000)}`);

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = exportCommand(io);
  return runCommand<ExportFlags>(cmd, argv, io, async (flags) => {
    const force = flags.force === true;
    const [trailPath, dirArg] = cmd.args as [string, string];
    const dir = resolve(io.cwd, dirArg);
    const existing = await checkTarget(dir, dirArg, force);
    // The trail first: a missing or unreadable one leaves no directory behind.
    const name = inputName(trailPath);
    const reader = await TrailReader.open(await inputStream(trailPath, io), name);
    await makeTarget(dir, dirArg, existing && force);
    const { header, annex } = reader.parsed;
    const put = writerTo(dir, dirArg);
    const v = preamble(name, header.trail);
    await put("header.json", `${JSON.stringify(header, null, 2)}\n`);
    const exported = await exportCheckpoints(reader, { put, v, io, name });
    v.push("");
    const stanzas = await exportStanzas(header, annex, put, v);
    await put("VERIFY.txt", `${v.join("\n")}\n`);
    io.stdout.write(
      `exported ${exported} checkpoints and ${stanzas} stanzas of ${name} to ${dirArg}; see ${join(dirArg, "VERIFY.txt")}\n`,
    );
    if (reader.end.state === "truncated") {
      say(io, "warning", `${name} is truncated: ${reader.end.reason}`);
    }
    return EXIT_OK;
  });
}

/** The export command and its flags. */
function exportCommand(io: Io): Command {
  return newCommand("trailseal export", io)
    .description("write out everything a third party needs to check a trail with openssl alone")
    .argument("<trail>", "the trail file (- for stdin)")
    .argument("<dir>", "directory to write into (created; must be empty unless --force)")
    .option("--force", "write into a directory that is not empty")
    .addHelpText(
      "after",
      `
Example:
  trailseal export session.trail evidence/ && cat evidence/VERIFY.txt

Per checkpoint: the signed content (.txt), the detached CMS signature (.p7s, DER), the signature
value (.sig) and the RFC 3161 token (.tst) when there is one; per stanza: the CMS envelope (DER);
per encrypted channel: the key-commitment label; header.json; and VERIFY.txt, the openssl
commands that check each of them.
Exit status: 0 exported, 1 not a trail, or tampered, 2 usage or I/O error (e.g. the directory
is not empty and --force is not given).`,
    );
}

/** Whether the directory exists; refuses a file, or (without `force`) a directory not empty. */
async function checkTarget(dir: string, dirArg: string, force: boolean): Promise<boolean> {
  const existing = await stat(dir).catch(() => null);
  if (existing !== null && !existing.isDirectory()) {
    throw new TrailsealError("IO", `${dirArg} exists and is not a directory`);
  }
  if (existing !== null && !force && (await readdir(dir)).length > 0) {
    throw new TrailsealError("IO", `${dirArg} is not empty`, {
      hint: "choose a new directory or pass --force",
    });
  }
  return existing !== null;
}

/** Creates the directory; `clean` removes an earlier export's files from it (only ours). */
async function makeTarget(dir: string, dirArg: string, clean: boolean): Promise<void> {
  try {
    // Not writable by others, whatever the umask: the evidence must stay as exported.
    await mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (e) {
    throw new TrailsealError("IO", `cannot create ${dirArg}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (!clean) return;
  // An earlier export's files would sit beside this one's and mislead.
  for (const f of await readdir(dir, { withFileTypes: true })) {
    if (!f.isFile() || !EXPORTED.test(f.name)) continue;
    await unlink(join(dir, f.name)).catch((e: unknown) => {
      throw new TrailsealError(
        "IO",
        `cannot remove ${join(dirArg, f.name)}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    });
  }
}

type Put = (file: string, data: Uint8Array | string) => Promise<void>;

/** Writes one file of the export (0644), naming it as the user gave the directory on failure. */
function writerTo(dir: string, dirArg: string): Put {
  return async (file, data) => {
    try {
      await writeFile(join(dir, file), data, { mode: 0o644 });
    } catch (e) {
      throw new TrailsealError(
        "IO",
        `cannot write ${join(dirArg, file)}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  };
}

/** The head of VERIFY.txt: what to set and what the commands below check. */
function preamble(name: string, trail: string): string[] {
  return [
    `# Checking ${name} (trail ${trail}) with openssl alone`,
    "#",
    "# Set CA to the PEM file of the signers' trust anchor and TSA_CA to the TSA's, e.g.",
    "#   CA=~/.trailseal/ca.crt TSA_CA=~/.trailseal/ca.crt",
    "# Every command below must succeed ('Verification successful' / 'Verification: OK').",
    "# -attime: certificates are checked at the signature's signingTime or the token's genTime",
    "# (so a certificate that has expired since does not fail a trail made while it was valid).",
    "# The chain head each checkpoint names is recomputed by 'trailseal verify' (docs/FORMAT.md",
    "# describes it: SHA-256 over the sealed header, then over head ‖ SHA-256(record)).",
    "",
  ];
}

/** Where the checkpoint files go and the VERIFY.txt lines they add. */
interface Export {
  readonly put: Put;
  readonly v: string[];
  readonly io: Io;
  readonly name: string;
}

/** Writes every checkpoint's files and its token's; returns how many checkpoints. */
async function exportCheckpoints(reader: TrailReader, x: Export): Promise<number> {
  let exported = 0;
  const stamps = new Map<number, string>();
  // Checkpoints whose signature value could not be taken out (a malformed signature).
  const noValue = new Set<number>();
  for await (const r of reader.records()) {
    if (r.type === "checkpoint") {
      const k = pad(r.statement.index);
      if (!(await exportCheckpoint(r, k, x))) noValue.add(r.seq);
      stamps.set(r.seq, k);
      exported++;
    } else if (r.type === "stamp") {
      await exportStamp(r, stamps.get(r.target.seq)!, noValue.has(r.target.seq), x);
    }
  }
  return exported;
}

/** One checkpoint's content, signature and signature value; false when the value is malformed. */
async function exportCheckpoint(r: CheckpointRecord, k: string, x: Export): Promise<boolean> {
  const { put, v } = x;
  await put(`checkpoint-${k}.txt`, r.content);
  v.push(
    `## checkpoint ${r.statement.index} (record ${r.seq}, session time ${r.time / 1e6}s${r.statement.final ? ", final" : ""})`,
  );
  if (r.signature.byteLength === 0) {
    v.push("# not signed");
    return true;
  }
  await put(`checkpoint-${k}.p7s`, r.signature);
  let valued = true;
  // Export is evidence, not a verdict: a malformed signature is written out as it is, for
  // openssl to refuse, and the rest of the trail is exported all the same.
  try {
    await put(`checkpoint-${k}.sig`, signatureValue(r.signature));
  } catch (e) {
    if (!isTrailsealError(e)) throw e;
    valued = false;
    say(x.io, "warning", `checkpoint ${r.statement.index} of ${x.name}: ${e.message}`);
    v.push(
      `# the signature of checkpoint ${r.statement.index} is malformed (${e.message}): openssl must refuse it`,
    );
  }
  v.push(
    `openssl cms -verify -binary -inform DER -in checkpoint-${k}.p7s -content checkpoint-${k}.txt${attime(claimedSigningTime(r.signature))} -CAfile "$CA" -purpose any -out /dev/null`,
  );
  return valued;
}

/** A stamp record: the token and its openssl check, or why there is none. */
async function exportStamp(r: StampRecord, k: string, noValue: boolean, x: Export): Promise<void> {
  const { put, v } = x;
  const index = r.target.statement.index;
  if (r.stamp.status !== "granted") {
    v.push(`## checkpoint ${index} is unstamped: ${r.stamp.note}`);
    return;
  }
  await put(`checkpoint-${k}.tst`, r.stamp.token);
  if (noValue) {
    v.push(
      `## timestamp of checkpoint ${index}: it stamps the signature value, which the malformed signature does not yield; it cannot be checked`,
    );
    return;
  }
  const data = r.target.signature.byteLength > 0 ? `checkpoint-${k}.sig` : `checkpoint-${k}.txt`;
  v.push(`## timestamp of checkpoint ${index} (${r.stamp.source} TSA; it stamps ${data})`);
  v.push(
    `openssl ts -verify -token_in -in checkpoint-${k}.tst -data ${data}${attime(tokenGenTime(r.stamp.token))} -CAfile "$TSA_CA"`,
  );
}

/** Writes the stanzas and commitment labels and their openssl commands; returns how many stanzas. */
async function exportStanzas(
  header: TrailHeader,
  annex: TrailAnnex,
  put: Put,
  v: string[],
): Promise<number> {
  v.push("## recipient stanzas (CMS EnvelopedData, DER); each yields a 32-byte file key");
  // What the commands below write decrypts the whole channel: not for other users' eyes.
  v.push(
    "# The opened envelopes (*.inner) and file keys (*.key) are secrets: the umask keeps them",
  );
  v.push("# from other users. The HMAC check puts the file key on openssl's command line (seen in");
  v.push(
    "# the process list while it runs): run it where no one else is logged in, then delete them.",
  );
  v.push("umask 077");
  const stanzas = [
    ...(["downstream", "upstream"] as const).flatMap((c) =>
      (header.channels[c].stanzas ?? []).map((s, i) => ({
        channel: c,
        s,
        file: `stanza-${c}-${i}.der`,
        added: null as string | null,
      })),
    ),
    ...annex.stanzas.map((s, i) => ({
      channel: s.channel,
      s,
      file: `stanza-${s.channel}-added-${i}.der`,
      added: s.added,
    })),
  ];
  for (const c of ["downstream", "upstream"] as const) {
    if (header.channels[c].encrypted)
      await put(`commitment-label-${c}.txt`, utf8.encode(commitmentLabel(c)));
  }
  for (const { channel, s, file, added } of stanzas) {
    await put(file, fromBase64(s.der));
    v.push(`# ${channel}, entry ${s.entry}${added === null ? "" : ` (added by share, ${added})`}`);
    v.push(...openingLines(s.layers, file));
    v.push(
      `# the file key must match the header's key commitment ${header.channels[channel].commitment!}:`,
    );
    v.push(
      `openssl dgst -sha256 -mac HMAC -macopt hexkey:$(od -An -tx1 -v ${file}.key | tr -d ' \\n') commitment-label-${channel}.txt`,
    );
    v.push("");
  }
  return stanzas.length;
}

/** The openssl commands that open a stanza to its file key: one layer, or four-eyes two. */
function openingLines(layers: readonly StanzaLayer[], file: string): string[] {
  if (layers.length === 1) {
    const l = layers[0]!;
    return [
      `#   recipient sha256:${l.spkiFingerprint} (${l.subject})`,
      `openssl cms -decrypt -binary -inform DER -in ${file} -inkey RECIPIENT.key -out ${file}.key`,
    ];
  }
  const [outer, inner] = layers as [StanzaLayer, StanzaLayer];
  return [
    `#   four-eyes: the outer holder sha256:${outer.spkiFingerprint} (${outer.subject}) opens the outer envelope`,
    `#   and hands ${file}.inner to the inner holder sha256:${inner.spkiFingerprint} (${inner.subject})`,
    `openssl cms -decrypt -binary -inform DER -in ${file} -inkey OUTER.key -out ${file}.inner`,
    `openssl cms -decrypt -binary -inform DER -in ${file}.inner -inkey INNER.key -out ${file}.key`,
  ];
}
