/**
 * The CLI as installed: `npm install` (prepare) bundles src/cli/bin.ts with esbuild into
 * dist/bin/ (scripts/bundle.mjs), and package.json's `bin` runs that bundle. Everything here
 * spawns it as a user would, from a directory that is not the package's.
 *
 * Which code a command loads is read from the bundle itself: a module hook (node --import) logs
 * every module URL the process resolves, and each chunk's source map names the source files it
 * was built from. No timing is asserted.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/io.js";

const REPO = join(import.meta.dirname, "..");
const PKG = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
  version: string;
  bin: Record<string, string>;
};
const BUNDLE = join(REPO, "dist", "bin");
const BIN = join(REPO, PKG.bin.trailseal ?? "");
const CERTS = join(REPO, "testdata", "certs");

let dir = "";
let hook = "";

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  /** The packages and src/ files whose code the process loaded, from the chunks' maps. */
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

/** Maps the module URLs a process resolved to the sources of the chunks among them. */
function loadedCode(trace: string): Ran["loaded"] {
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
    const map = JSON.parse(readFileSync(`${chunk}.map`, "utf8")) as { sources: string[] };
    for (const s of map.sources) {
      const path = relative(REPO, resolve(BUNDLE, s));
      const pkg = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(path);
      if (pkg !== null) packages.add(pkg[1]!);
      else sources.add(path);
    }
  }
  return { packages: [...packages].sort(), sources: [...sources].sort() };
}

const HEAVY = ["@peculiar/x509", "node-forge", "reflect-metadata"];

/** What --version and --help load: the dispatcher and the output helpers (which use commander). */
const STARTUP: Ran["loaded"] = {
  packages: ["commander"],
  sources: [
    "src/cli/bin.ts",
    "src/cli/io.ts",
    "src/cli/main.ts",
    "src/cli/process-io.ts",
    "src/errors.ts",
  ],
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

  it("prints package.json's version exactly, loading no library but commander", async () => {
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

  // Needs src/pkix to import @peculiar/x509, reflect-metadata and node-forge lazily (branch
  // pkix, task A item 4); until it lands, src/pkix/engine.ts imports them statically and this
  it("pem of a certificate and verify load neither node-forge nor @peculiar/x509", async () => {
    const pem = await bin(["pem", join(CERTS, "rsa2048-a.crt")]);
    expect(pem).toMatchObject({ code: 0, stderr: "" });
    expect(pem.stdout).toBe(readFileSync(join(CERTS, "rsa2048-a.crt"), "utf8"));
    expect(pem.loaded.packages.filter((p) => HEAVY.includes(p))).toEqual([]);
    const verify = await bin([
      "verify",
      join(dir, "story", "session.trail"),
      "--ca",
      join(dir, "story", "authority", "ca.crt"),
      "--tsa-ca",
      join(dir, "story", "authority", "ca.crt"),
    ]);
    expect(verify).toMatchObject({ code: 0, stderr: "" });
    expect(verify.loaded.packages.filter((p) => HEAVY.includes(p))).toEqual([]);
  });
});
