/**
 * The CLI as installed: `npm install` (prepare) bundles src/cli/bin.ts with esbuild into
 * dist/bin/ (scripts/bundle.mjs), and package.json's `bin` runs that bundle. Everything here
 * spawns it as a user would, from a directory that is not the package's.
 *
 * Which code a command loads is read from the bundle itself: a module hook (node --import) logs
 * every module URL the process resolves, and esbuild's metafile (dist/bundle-meta.json, written
 * by scripts/bundle.mjs) names the source files and packages each chunk was built from. No timing
 * is asserted: the start-up cost is measured by `npm run bench -- --only startup` (issue 9); this
 * keeps what it measured from silently coming back.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/io.js";

const REPO = join(import.meta.dirname, "..");
const PKG = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
  version: string;
  bin: Record<string, string>;
};
const BUNDLE = join(REPO, "dist", "bin");
const METAFILE = join(REPO, "dist", "bundle-meta.json");
const BIN = join(REPO, PKG.bin.trailseal ?? "");
const CERTS = join(REPO, "testdata", "certs");

let dir = "";
let hook = "";

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  /** The packages and src/ files whose code the process loaded, from the metafile. */
  loaded: { packages: string[]; sources: string[] };
}

/** Runs the bundled bin with `argv` in `cwd`, logging the modules it resolves. */
async function bin(argv: readonly string[], env: Record<string, string> = {}): Promise<Ran> {
  const trace = join(mkdtempSync(join(dir, "trace-")), "modules.txt");
  writeFileSync(trace, "");
  const { code, stdout, stderr } = await new Promise<{
    code: number;
    stdout: string;
    stderr: string;
  }>((done) => {
    execFile(
      process.execPath,
      ["--import", pathToFileURL(hook).href, BIN, ...argv],
      { cwd: dir, env: { PATH: process.env.PATH ?? "", TRACE_FILE: trace, ...env } },
      (error, stdout, stderr) =>
        done({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
    );
  });
  return { code, stdout, stderr, loaded: loadedCode(readFileSync(trace, "utf8")) };
}

/** esbuild's metafile: each output file of dist/bin (path from the package root) and its inputs. */
function chunkInputs(): Map<string, string[]> {
  const meta = JSON.parse(readFileSync(METAFILE, "utf8")) as {
    outputs: Record<string, { inputs: Record<string, unknown> }>;
  };
  return new Map(Object.entries(meta.outputs).map(([out, o]) => [out, Object.keys(o.inputs)]));
}

/** Maps the module URLs a process resolved to the sources of the chunks among them. */
function loadedCode(trace: string): Ran["loaded"] {
  const inputs = chunkInputs();
  const chunks = new Set(
    trace
      .split("\n")
      .filter((u) => u.startsWith("file:"))
      .map((u) => fileURLToPath(u)),
  );
  const packages = new Set<string>();
  const sources = new Set<string>();
  for (const chunk of chunks) {
    // Nothing outside the bundle: no src/, no dist/ of tsc, no package from node_modules.
    expect(dirname(chunk), chunk).toBe(BUNDLE);
    const built = inputs.get(relative(REPO, chunk));
    expect(built, `${chunk} is not in ${METAFILE}`).toBeDefined();
    for (const path of built!) {
      const pkg = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(path);
      if (pkg !== null) packages.add(pkg[1]!);
      else sources.add(path);
    }
  }
  return { packages: [...packages].sort(), sources: [...sources].sort() };
}

/** The PKIX libraries: none loads before a command needs it (src/pkix/engine.ts). */
const PKIX = ["@peculiar/x509", "asn1js", "node-forge", "pkijs", "reflect-metadata"];

/** What --version and --help load: the dispatcher and the one voice, no package (no commander). */
const STARTUP: Ran["loaded"] = {
  packages: [],
  sources: ["src/cli/bin.ts", "src/cli/main.ts", "src/cli/process-io.ts", "src/cli/voice.ts"],
};

beforeAll(() => {
  if (!existsSync(BIN)) {
    throw new Error(`${BIN} is missing: run 'npm run build' (npm test does it first)`);
  }
  dir = mkdtempSync(join(tmpdir(), "trailseal-bundle-"));
  hook = join(dir, "trace.mjs");
  // The hooks run in their own thread; appendFileSync lands each URL before the process exits.
  writeFileSync(
    join(dir, "trace-hooks.mjs"),
    `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.TRACE_FILE, r.url + "\\n");
  return r;
}
`,
  );
  writeFileSync(
    hook,
    `import { register } from "node:module";
register(${JSON.stringify(pathToFileURL(join(dir, "trace-hooks.mjs")).href)});
`,
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("the bundled CLI (dist/bin, package.json bin)", () => {
  it("is one entry and its chunks, which import only each other and node: built-ins", () => {
    expect(PKG.bin).toEqual({ trailseal: "dist/bin/trailseal.js" });
    expect(readFileSync(BIN, "utf8").split("\n", 1)[0]).toBe("#!/usr/bin/env node");
    const files = readdirSync(BUNDLE);
    const js = files.filter((f) => f.endsWith(".js"));
    expect(js).toContain("trailseal.js");
    // Entries: the bin and the archive worker threads (loaded by URL, so they keep their names).
    const entries = ["scan-worker.js", "trailseal.js", "verify-worker.js"];
    expect(js.filter((f) => entries.includes(f)).sort()).toEqual(entries);
    // Chunks: a command or a lazily loaded library (a dynamic import()) or shared code, named
    // with a content hash.
    expect(
      js.filter((f) => !entries.includes(f) && !/^[A-Za-z0-9.]+-[A-Z0-9]{8}\.js$/.test(f)),
    ).toEqual([]);
    const specifiers = new Set<string>();
    for (const f of js) {
      const text = readFileSync(join(BUNDLE, f), "utf8");
      // Linked source maps: `node --enable-source-maps` maps stack traces to src/*.ts.
      expect(text.trimEnd().endsWith(`//# sourceMappingURL=${f}.map`), f).toBe(true);
      expect(files).toContain(`${f}.map`);
      for (const m of text.matchAll(
        /(?:(?:^|[\s;}])from\s*|\bimport\s*\(\s*|^import\s*)"([^"]+)"/gm,
      )) {
        specifiers.add(m[1]!);
      }
    }
    const outside = [...specifiers].filter(
      (s) => !s.startsWith("node:") && !(s.startsWith("./") && js.includes(s.slice(2))),
    );
    expect(outside).toEqual([]);
  });

  it("prints package.json's version exactly, loading no package and no command", async () => {
    const r = await bin(["--version"]);
    expect(r).toMatchObject({ code: 0, stdout: `${PKG.version}\n`, stderr: "" });
    expect(r.loaded).toEqual(STARTUP);
  });

  it("prints the same --help as the CLI run in-process, loading no command", async () => {
    const r = await bin(["--help"]);
    const inProcess = await runCli(["--help"]);
    expect(r).toMatchObject({ code: 0, stdout: inProcess.stdout, stderr: "" });
    expect(r.loaded).toEqual(STARTUP);
  });

  it("runs the demo from another directory, sealing the package's bundled recording", async () => {
    const r = await bin(["demo", "story"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const recording = join(REPO, "testdata", "recordings", "admin-session.cast");
    expect(r.stdout).toContain(
      `$ trailseal seal --policy policy.json --home authority ${recording} -o session.trail\n` +
        `  sealed ${recording} (asciicast) into session.trail: 490 records, 4 checkpoints;`,
    );
    expect(r.stdout).toContain("  session.trail: VALID\n");
    expect(existsSync(join(dir, "story", "replay.cast"))).toBe(true);
  });

  it("loads node-forge for a legacy PKCS#12 (RC2-40), which only it decrypts", async () => {
    const r = await bin(["pem", join(CERTS, "variants", "legacy-rc2.p12"), "--passin", "env:P"], {
      P: "trailseal-test",
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(CERTS, "rsa2048-a.crt"), "utf8"));
    expect(r.loaded.packages).toContain("node-forge");
  });

  // Issue 9: what each start-up row of the bench loads, exactly. pkijs and asn1js (the CMS
  // envelopes, ~800 KB) load only to make or open a stanza or read PKCS#12, @peculiar/x509 and
  // reflect-metadata only to issue a certificate, node-forge only for legacy PKCS#12, re2js only
  // to read a policy (content-policy patterns), @xterm/headless only to scan or replay as text.
  // `node scripts/why-loaded.mjs src/cli/verify.ts pkijs` says which import brought one back.
  it("verify of a trail without a key, inspect and pem of a certificate load commander alone", async () => {
    const story = join(dir, "story");
    const verify = await bin([
      "verify",
      join(story, "session.trail"),
      "--ca",
      join(story, "authority", "ca.crt"),
      "--tsa-ca",
      join(story, "authority", "ca.crt"),
    ]);
    expect(verify).toMatchObject({ code: 0, stderr: "" });
    expect(verify.stdout.split("\n", 1)[0]).toBe(`${join(story, "session.trail")}: VALID`);
    expect(verify.loaded.packages).toEqual(["commander"]);
    // Not even the modules that would load them.
    for (const lazy of ["src/pkix/engine.ts", "src/pkix/envelope.ts", "src/policy/content.ts"]) {
      expect(verify.loaded.sources).not.toContain(lazy);
    }
    const inspect = await bin(["inspect", join(story, "session.trail")]);
    expect(inspect).toMatchObject({ code: 0, stderr: "" });
    expect(inspect.loaded.packages).toEqual(["commander"]);
    const pem = await bin(["pem", join(CERTS, "rsa2048-a.crt")]);
    expect(pem).toMatchObject({ code: 0, stderr: "" });
    expect(pem.stdout).toBe(readFileSync(join(CERTS, "rsa2048-a.crt"), "utf8"));
    expect(pem.loaded.packages).toEqual(["commander"]);
  });

  it("replay --format raw loads pkijs and its own (to open the stanzas), no terminal emulator", async () => {
    const story = join(dir, "story");
    const out = join(dir, "replay-raw.bin");
    const keys = ["--key", join(story, "alice.key"), "--key", join(story, "bob.key")];
    const raw = await bin([
      "replay",
      join(story, "session.trail"),
      ...keys,
      "--format",
      "raw",
      "-o",
      out,
    ]);
    expect(raw.code, raw.stderr).toBe(0);
    expect(raw.loaded.packages).toEqual([
      "@noble/hashes",
      "@peculiar/utils",
      "asn1js",
      "bytestreamjs",
      "commander",
      "pkijs",
    ]);
    for (const lazy of ["src/replay/text.ts", "src/scan/screen.ts", "src/policy/parse.ts"]) {
      expect(raw.loaded.sources).not.toContain(lazy);
    }
    // --format text is the one replay that needs the emulator.
    const text = await bin([
      "replay",
      join(story, "session.trail"),
      ...keys,
      "--format",
      "text",
      "-o",
      `${out}.txt`,
    ]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.loaded.packages).toContain("@xterm/headless");
  });

  it("policy check loads commander and re2js (content-policy patterns), nothing of pkix", async () => {
    const r = await bin(["policy", "check", join(dir, "story", "policy.json")]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.loaded.packages).toEqual(["commander", "re2js"]);
  });

  it("every command's --help loads no pkix library (pkijs, asn1js, x509, forge)", async () => {
    const usage = (await runCli(["--help"])).stdout;
    const commands = [...usage.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]!);
    expect(commands.length).toBeGreaterThan(15);
    // All at once: one at a time takes a minute on a loaded machine (each --help is a process).
    const runs = await Promise.all(commands.map((command) => bin([command, "--help"])));
    for (const [i, r] of runs.entries()) {
      const command = commands[i]!;
      expect(r, command).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout, command).toMatch(new RegExp(`^Usage: trailseal ${command} `));
      expect(
        r.loaded.packages.filter((p) => PKIX.includes(p)),
        command,
      ).toEqual([]);
    }
  }, 180_000);
});
