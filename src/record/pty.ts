/**
 * A pseudo-terminal for live recording, made by util-linux `script` rather than a native addon:
 * `script` is on every Linux that has util-linux (Debian: bsdutils), needs no build step, and
 * works whether or not our own stdin is a terminal.
 *
 * We run `script -q -e -c WRAPPER /dev/null` with pipes on all three of its descriptors. Its
 * stdin is a pipe, so `script` leaves terminal handling to us: it copies our bytes into the
 * pty master and the command's output to its stdout, and with `-e` exits with the command's
 * status (128 + N when a signal N ended it). On end of its stdin it sends the pty's EOF
 * character. The pty keeps its default line discipline (ECHO on), so the command sees an
 * ordinary terminal and keystrokes come back echoed in the output, as from any terminal.
 *
 * The typescript goes to /dev/null: we record the bytes that pass through our pipes, timed as
 * they pass. The wrapper (a /bin/sh script) sets the pty's size, tells us the command's pid and
 * the pty's name through a file in a private directory, then execs the command; that lets us
 * resize the pty later (`stty -F`) and signal the command itself.
 *
 * `script` is started through util-linux `setpriv --pdeathsig TERM` when it is installed: if
 * the recorder dies without a chance to hang up (SIGKILL, OOM killer), the kernel sends SIGTERM
 * to `script`, which ends the session. Without it the command would go on running in a pty that
 * nobody records, the one thing an audit recorder must not allow.
 *
 * The parent-death signal only covers a recorder that dies after setpriv has set it. A recorder
 * killed between the spawn and that moment leaves `script` orphaned, with no signal to come. So
 * the wrapper, which runs only once `script` runs and the signal is set, checks that `script`'s
 * parent is still the recorder before it execs the command. If the recorder is gone, the wrapper
 * says so and exits 125 instead, and the command never starts.
 */
import { spawn, execFile, type ChildProcessByStdio } from "node:child_process";
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { constants, tmpdir } from "node:os";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { TrailsealError } from "../errors.js";

export interface PtyOptions {
  /** The command and its arguments (argv; no shell involved). */
  readonly command: readonly string[];
  readonly cols: number;
  readonly rows: number;
  /** Environment of the command. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /**
   * The `script` program (default: `script` on PATH). A wrapper must exec util-linux `script`:
   * the pty wrapper starts the command only while `script`'s parent is this process.
   */
  readonly script?: string;
  /**
   * util-linux `setpriv`, used to give `script` a parent-death signal (default: `setpriv` on
   * PATH; null: do without, as when it is not installed).
   */
  readonly setpriv?: string | null;
}

/** What the wrapper reports once it runs inside the pty. */
interface PtyInfo {
  readonly pid: number;
  readonly tty: string;
}

/** Quotes one word for /bin/sh. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line as a user would type it (shown in the trail header). */
export function commandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}

const INFO_VAR = "TRAILSEAL_RECORD_INFO";
const SHELL_VAR = "TRAILSEAL_RECORD_SHELL";
const PARENT_VAR = "TRAILSEAL_RECORD_PARENT";
/** What the wrapper prints when `script`'s parent is not the recorder. */
const ORPHANED =
  "trailseal record: script's parent is no longer the recorder (it has ended?); " +
  "the command was not started";

/**
 * The wrapper run by `script` (as `$SHELL -c`, with SHELL=/bin/sh): make sure the recorder is
 * still `script`'s parent (see the file's comment; `$PPID` is `script`, and the fourth field of
 * its /proc stat, after the parenthesised name, is its parent), restore the user's SHELL, size
 * the pty, report pid and tty (written whole, then renamed, so a reader never sees half a line),
 * and exec the command so that the reported pid is the command's.
 */
function wrapper(options: PtyOptions): string {
  return [
    `__ts_stat=; { read -r __ts_stat < /proc/$PPID/stat; } 2>/dev/null; set -- \${__ts_stat##*") "}`,
    `if [ "\${2-}" != "$${PARENT_VAR}" ]; then echo "${ORPHANED}" >&2; exit 125; fi`,
    `if [ -n "\${${SHELL_VAR}+x}" ]; then SHELL=$${SHELL_VAR}; export SHELL; else unset SHELL; fi`,
    `__ts_info=$${INFO_VAR}; unset ${INFO_VAR} ${SHELL_VAR} ${PARENT_VAR} __ts_stat; set --`,
    `stty cols ${options.cols} rows ${options.rows} 2>/dev/null`,
    `printf '%s %s\\n' "$$" "$(tty)" > "$__ts_info.tmp" && mv -f "$__ts_info.tmp" "$__ts_info"`,
    `unset __ts_info`,
    `exec ${commandLine(options.command)}`,
  ].join("; ");
}

/** A command running in a pseudo-terminal. */
export class ScriptPty {
  /** Exit status of the command (script -e: 128 + N for signal N). */
  readonly exited: Promise<number>;
  private readonly info: Promise<PtyInfo | null>;
  private done = false;
  private resizing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly child: ChildProcessByStdio<Writable, Readable, Readable>,
    private readonly dir: string,
  ) {
    this.exited = new Promise<number>((resolve, reject) => {
      child.once("error", (e) => {
        this.done = true;
        reject(spawnError(e));
      });
      // "close": after the exit AND after stdout is drained, so no output is lost.
      child.once("close", (code, signal) => {
        this.done = true;
        void rm(this.dir, { recursive: true, force: true });
        if (code !== null) resolve(code);
        else resolve(128 + signalNumber(signal));
      });
    });
    this.info = this.readInfo();
  }

  /** Starts the command. */
  static async spawn(options: PtyOptions): Promise<ScriptPty> {
    if (options.command.length === 0) throw new TrailsealError("USAGE", "no command to record");
    const dir = await mkdtemp(join(tmpdir(), "trailseal-record-"));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.env)) if (v !== undefined) env[k] = v;
    const shell = options.env["SHELL"];
    if (shell !== undefined) env[SHELL_VAR] = shell;
    env["SHELL"] = "/bin/sh";
    env[INFO_VAR] = join(dir, "info");
    env[PARENT_VAR] = String(process.pid);
    const script = options.script ?? "script";
    const args = ["-q", "-e", "-c", wrapper(options), "/dev/null"];
    const path = options.env["PATH"] ?? "";
    const setpriv =
      options.setpriv === null ? null : executable(options.setpriv ?? "setpriv", path, options.cwd);
    // Under setpriv a missing `script` would be setpriv's exit 127; find it first instead.
    const scriptPath = setpriv === null ? null : executable(script, path, options.cwd);
    if (setpriv !== null && scriptPath === null) {
      await rm(dir, { recursive: true, force: true });
      throw spawnError(Object.assign(new Error(`spawn ${script} ENOENT`), { code: "ENOENT" }));
    }
    const child =
      setpriv === null || scriptPath === null
        ? spawn(script, args, { cwd: options.cwd, env, stdio: ["pipe", "pipe", "pipe"] })
        : spawn(setpriv, ["--pdeathsig", "TERM", "--", scriptPath, ...args], {
            cwd: options.cwd,
            env,
            stdio: ["pipe", "pipe", "pipe"],
          });
    const pty = new ScriptPty(child, dir);
    pty.exited.catch(() => undefined); // a spawn failure is reported below, not as unhandled
    // A spawn failure (no `script`) surfaces here rather than as an unhandled rejection later.
    try {
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", () => resolve());
        child.once("error", (e) => reject(spawnError(e)));
      });
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
    child.stdin.on("error", () => undefined); // EPIPE once the command is gone: nothing to deliver
    return pty;
  }

  /** The command's output (the pty's downstream bytes). */
  get output(): Readable {
    return this.child.stdout;
  }

  /** Messages of `script` itself (never the command's: its stderr is the pty). */
  get diagnostics(): Readable {
    return this.child.stderr;
  }

  /** Types bytes into the terminal. */
  write(data: Uint8Array): void {
    if (!this.done && this.child.stdin.writable) this.child.stdin.write(data);
  }

  /** Ends input: `script` sends the terminal's EOF character to the command. */
  end(): void {
    if (this.child.stdin.writable) this.child.stdin.end();
  }

  /**
   * Resizes the terminal; the kernel sends SIGWINCH to the command's foreground job. Resizes
   * are applied one after the other, so the last one wins however fast they come.
   */
  resize(cols: number, rows: number): Promise<void> {
    this.resizing = this.resizing.then(async () => {
      const info = await this.info;
      if (info === null || this.done) return;
      await new Promise<void>((resolve) => {
        execFile("stty", ["-F", info.tty, "cols", String(cols), "rows", String(rows)], () =>
          resolve(),
        );
      });
    });
    return this.resizing;
  }

  /**
   * Sends a signal to the command's process group (the command leads its own session in the
   * pty, so its group is its job; a job-control shell passes a hangup on to its other jobs).
   * Returns false when the command is not known to be running.
   */
  async kill(signal: NodeJS.Signals): Promise<boolean> {
    const info = await this.info;
    if (info === null || this.done) return false;
    try {
      process.kill(-info.pid, signal);
      return true;
    } catch {
      try {
        process.kill(info.pid, signal);
        return true;
      } catch {
        return false;
      }
    }
  }

  /** Kills `script` itself (last resort, when the command could not be found). */
  killScript(): void {
    if (!this.done) this.child.kill("SIGKILL");
  }

  /**
   * Waits for the wrapper's report (it runs within milliseconds of the spawn), then removes the
   * private directory at once, so that not even a recorder killed with SIGKILL leaves it behind.
   * Null when the command ends (or `script` fails) before the wrapper reports.
   */
  private async readInfo(): Promise<PtyInfo | null> {
    try {
      while (!this.done) {
        const text = await readFile(join(this.dir, "info"), "utf8").catch(() => null);
        const m = text === null ? null : /^(\d+) (\/dev\/\S+)\n$/.exec(text);
        if (m !== null) return { pid: Number(m[1]), tty: m[2]! };
        await new Promise((r) => setTimeout(r, 10));
      }
      return null;
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}

/** The path of an executable file: `name` itself when it has a slash, else found on `path`. */
function executable(name: string, path: string, cwd: string): string | null {
  const candidates = name.includes("/")
    ? [isAbsolute(name) ? name : resolve(cwd, name)]
    : path
        .split(delimiter)
        .filter((d) => d !== "")
        .map((d) => resolve(cwd, d, name));
  for (const file of candidates) {
    try {
      accessSync(file, fsConstants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not there, or not executable: try the next
    }
  }
  return null;
}

function spawnError(e: Error): TrailsealError {
  const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
  return new TrailsealError(
    "IO",
    missing
      ? "cannot run 'script' (util-linux), which makes the pseudo-terminal"
      : `cannot start 'script': ${e.message}`,
    {
      cause: e,
      ...(missing
        ? { hint: "install util-linux's script (Debian and Ubuntu: apt-get install bsdutils)" }
        : {}),
    },
  );
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : (constants.signals[signal] ?? 0);
}
