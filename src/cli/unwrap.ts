/**
 * `trailseal unwrap`: the outer holder's half of split knowledge. A four-eyes stanza is an
 * envelope inside an envelope (DESIGN.md); `export` writes each stanza out as a CMS file, and
 * this opens its outer layer with the outer key alone — a file or a key on a token — and writes
 * the inner envelope, a standard CMS file for the inner holder (`replay --inner`, or
 * `openssl cms -decrypt` with a key file). It never writes a file key out.
 */
import { TrailsealError, isTrailsealError } from "../errors.js";
import type { OpenedKey } from "../keys.js";
import { openLayerTyped } from "../recipients.js";
import type { Command } from "commander";
import { newCommand, type Io } from "./io.js";
import {
  keyOptions,
  runWithKeys,
  writeOutput,
  type KeyFlags,
  outputOptions,
  wrote,
} from "./common.js";
import { readInput } from "./files.js";

interface UnwrapFlags extends KeyFlags {
  output: string;
  force?: boolean;
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const cmd = unwrapCommand(io);
  return runWithKeys<UnwrapFlags>(cmd, argv, io, async (flags, load) => {
    const [stanzaPath] = cmd.args as [string];
    // Before any key is read or a token opened.
    if ((flags.key ?? []).length === 0) {
      throw new TrailsealError("USAGE", "unwrap needs the outer layer's key: pass --key");
    }
    const der = await readInput(stanzaPath, io);
    const { keys } = await load();
    const { inner, key } = await openOuter(der, keys, stanzaPath);
    const privately = { force: flags.force === true, mode: 0o600 };
    await writeOutput(flags.output, io, privately, (out) => out.write(inner));
    return wrote(
      io,
      flags.output,
      `opened the layer for sha256:${key.spkiFingerprint}; wrote the inner envelope to ${flags.output}`,
    );
  });
}

/** The unwrap command and its flags. */
function unwrapCommand(io: Io): Command {
  return outputOptions(
    keyOptions(
      newCommand("trailseal unwrap", io),
      "the outer layer's private key: a file or a PKCS#11 URI (repeatable)",
    )
      .description(
        "open the outer layer of a four-eyes stanza with the outer key alone and write the inner envelope for the inner key's holder",
      )
      .argument("<stanza>", "a stanza as 'trailseal export' writes it: CMS EnvelopedData, DER"),
    "the inner envelope (CMS, DER; - for stdout)",
  ).addHelpText(
    "after",
    `
Examples (bob holds the outer key, alice the inner one; the keys never meet):
  bob$   trailseal export session.trail evidence/
  bob$   trailseal unwrap evidence/stanza-downstream-0.der -o inner.cms \\
           --key 'pkcs11:token=bob;object=audit;type=private' --pin env:BOB_PIN
  alice$ trailseal replay session.trail --inner inner.cms \\
           --key 'pkcs11:token=alice;object=audit;type=private' --pin env:ALICE_PIN -o s.cast
  alice$ openssl cms -decrypt -inform DER -in inner.cms -inkey alice.key -out file.key

The inner envelope is written readable by its owner only (0600): with it, the inner key alone
opens the channel. The innermost layer (it holds the file key) is refused: open the trail with
'replay --inner' instead of writing the file key out.
Exit status: 0 written, 1 no key given opens the envelope, 2 usage or I/O error.`,
  );
}

/**
 * Opens the stanza's outer layer with the first key that can, and returns the inner envelope.
 * Refuses the innermost layer (it holds a file key), and says why each key failed.
 */
async function openOuter(
  der: Uint8Array,
  keys: readonly OpenedKey[],
  stanzaPath: string,
): Promise<{ inner: Uint8Array; key: OpenedKey }> {
  const failures: string[] = [];
  for (const key of keys) {
    let opened: Awaited<ReturnType<typeof openLayerTyped>>;
    try {
      opened = await openLayerTyped(der, key);
    } catch (e) {
      if (!isTrailsealError(e, "NO_MATCHING_KEY")) throw e;
      failures.push(e.message);
      continue;
    }
    if (opened.contentType !== "envelopedData") {
      throw new TrailsealError(
        "USAGE",
        `${stanzaPath} is the innermost layer: it holds a file key, which unwrap does not write out`,
        { hint: `open the trail with it: trailseal replay TRAIL --inner ${stanzaPath} --key …` },
      );
    }
    return { inner: opened.content, key };
  }
  throw new TrailsealError("NO_MATCHING_KEY", failures.join("\n"), {
    hint: "give the private key of the certificate the outer layer was made for",
  });
}
