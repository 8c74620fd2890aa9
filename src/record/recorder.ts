/**
 * Live recording: runs a command in a pseudo-terminal, passes its output through, and seals the
 * session as it runs. Output (downstream), keystrokes (upstream) and resizes are written to the
 * trail when they pass, timed by a monotonic clock from the session's start; a timer advances
 * the writer so that checkpoints (signed and stamped as the policy says) land on the wall clock,
 * silent intervals included. The trail's bytes go to the sink as they are made, and `sync` is
 * called after every checkpoint, so a recorder killed at any moment leaves a file whose prefix
 * up to the last checkpoint verifies.
 */
import { hostname, userInfo } from "node:os";
import { performance } from "node:perf_hooks";
import type { Readable, Writable } from "node:stream";
import type { SessionMetadata } from "../events.js";
import { TrailWriter, type TrailWriterOptions } from "../trail/writer.js";
import { ScriptPty, commandLine } from "./pty.js";

export interface RecordOptions extends Omit<TrailWriterOptions, "session" | "awaitStamps"> {
  /** The command and its arguments. */
  readonly command: readonly string[];
  /** Initial terminal size. */
  readonly cols: number;
  readonly rows: number;
  /** Environment and working directory of the command. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Keystrokes for the command; its end is passed on as the terminal's EOF character. */
  readonly input: Readable;
  /** Where the command's output is shown (the user's terminal). */
  readonly output: Writable;
  /** Header metadata beyond what the recorder knows (user, host, env); see `liveMetadata`. */
  readonly metadata?: SessionMetadata;
  /** Called after each checkpoint is written (the CLI fsyncs the trail file here). */
  readonly sync?: () => Promise<void>;
  /** How often the writer is advanced, in milliseconds (default 250). */
  readonly tickMs?: number;
  /** Seconds between a hangup and SIGKILL, when the command ignores the hangup (default 5). */
  readonly killAfter?: number;
  /** The `script` program (default: `script` on PATH). */
  readonly script?: string;
}

export interface RecordResult {
  /** The command's exit status (128 + N when signal N ended it). */
  readonly status: number;
  readonly records: number;
  readonly checkpoints: number;
  /** Checkpoints written unstamped (the TSA was down, slow or refused). */
  readonly unstamped: number;
  /** Session length, microseconds. */
  readonly duration: number;
}

/** Header metadata of a live session on this machine: user, host, TERM and SHELL. */
export function liveMetadata(env: Readonly<Record<string, string | undefined>>): SessionMetadata {
  const kept: Record<string, string> = {};
  for (const name of ["TERM", "SHELL"]) {
    const v = env[name];
    if (v !== undefined) kept[name] = v;
  }
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    user = env["USER"];
  }
  return { ...(user === undefined ? {} : { user }), host: hostname(), env: kept };
}

/** Most bytes of output held for the trail before the command's output is paused. */
const MAX_BACKLOG = 8 * 1024 * 1024;

/**
 * A live recording in progress. `start` spawns the command; `finished` resolves when it has
 * exited and the trail is closed with its final checkpoint.
 *
 * @example
 *   const file = await open("s.trail", "wx");
 *   const rec = await LiveRecorder.start({
 *     plan, signer, stamper, clock: () => new Date(), random: (n) => new Uint8Array(randomBytes(n)),
 *     sink: async (b) => void (await file.write(b)), sync: () => file.sync(),
 *     command: ["ssh", "admin@db1"], cols: 80, rows: 24, env: process.env, cwd: process.cwd(),
 *     input: process.stdin, output: process.stdout, metadata: liveMetadata(process.env),
 *   });
 *   process.stdout.on("resize", () => rec.resize(process.stdout.columns, process.stdout.rows));
 *   const { status } = await rec.finished;
 */
export class LiveRecorder {
  /** Resolves with the outcome; rejects if the trail could not be written. */
  readonly finished: Promise<RecordResult>;
  private queue: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private backlog = 0;
  private cols: number;
  private rows: number;
  private hangups = 0;
  private exited = false;

  private constructor(
    private readonly options: RecordOptions,
    private readonly writer: TrailWriter,
    private readonly pty: ScriptPty,
    private readonly t0: number,
  ) {
    this.cols = options.cols;
    this.rows = options.rows;
    this.finished = this.run();
    this.finished.catch(() => undefined);
  }

  /** Writes the trail's header, then starts the command in a pseudo-terminal. */
  static async start(options: RecordOptions): Promise<LiveRecorder> {
    const startTime = options.clock().getTime() / 1000;
    const session: SessionMetadata = {
      ...options.metadata,
      command: commandLine(options.command),
      cols: options.cols,
      rows: options.rows,
      startTime,
      source: "live",
    };
    const writer = await TrailWriter.create({ ...options, session, awaitStamps: false });
    const pty = await ScriptPty.spawn({
      command: options.command,
      cols: options.cols,
      rows: options.rows,
      env: options.env,
      cwd: options.cwd,
      ...(options.script === undefined ? {} : { script: options.script }),
    });
    return new LiveRecorder(options, writer, pty, performance.now());
  }

  /** Session time now, integer microseconds (monotonic, so never earlier than before). */
  private now(): number {
    return Math.max(0, Math.round((performance.now() - this.t0) * 1000));
  }

  /** Runs one writer operation after the ones before it; the first failure stops the session. */
  private enqueue(op: (w: TrailWriter) => Promise<void>): Promise<void> {
    this.queue = this.queue.then(async () => {
      if (this.failure !== null) return;
      const before = this.writer.checkpointCount;
      try {
        await op(this.writer);
        if (this.writer.checkpointCount > before && this.options.sync !== undefined)
          await this.options.sync();
      } catch (e) {
        this.failure = e;
        // An unrecorded privileged session is what the audit exists to prevent: end it.
        this.options.onWarning?.(
          `the trail cannot be written (${e instanceof Error ? e.message : String(e)}); hanging up the session`,
        );
        void this.hangup();
      }
    });
    return this.queue;
  }

  /** The terminal was resized: record it and pass it on to the command. */
  resize(cols: number, rows: number): void {
    if (this.exited || (cols === this.cols && rows === this.rows) || !(cols > 0 && rows > 0))
      return;
    this.cols = cols;
    this.rows = rows;
    const time = this.now();
    void this.enqueue((w) => w.event({ type: "resize", time, cols, rows }));
    void this.pty.resize(cols, rows);
  }

  /**
   * Ends the session from outside (the recorder got SIGINT, SIGTERM or SIGHUP): the command is
   * hung up as if its terminal went away, and killed if it is still there `killAfter` seconds
   * later or at a second call. The trail is then closed as usual, with its final checkpoint.
   */
  async hangup(): Promise<void> {
    if (this.exited) return;
    this.hangups++;
    if (this.hangups === 1) {
      if (!(await this.pty.kill("SIGHUP"))) this.pty.killScript();
      const timer = setTimeout(() => void this.hangup(), (this.options.killAfter ?? 5) * 1000);
      timer.unref();
      return;
    }
    if (!(await this.pty.kill("SIGKILL"))) this.pty.killScript();
  }

  private async run(): Promise<RecordResult> {
    const { input, output } = this.options;
    const pty = this.pty;

    const onOutput = (chunk: Buffer): void => {
      const data = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const time = this.now();
      if (!output.write(chunk)) {
        pty.output.pause();
        output.once("drain", () => this.resumeOutput());
      }
      this.backlog += data.byteLength;
      if (this.backlog > MAX_BACKLOG) pty.output.pause();
      void this.enqueue((w) => w.event({ type: "output", time, data })).then(() => {
        this.backlog -= data.byteLength;
        if (this.backlog <= MAX_BACKLOG / 2) this.resumeOutput();
      });
    };
    const onInput = (chunk: Buffer | string): void => {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      const data = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      const time = this.now();
      pty.write(data);
      void this.enqueue((w) => w.event({ type: "input", time, data }));
    };
    const onInputEnd = (): void => pty.end();
    pty.output.on("data", onOutput);
    pty.diagnostics.on("data", (c: Buffer) =>
      this.options.onWarning?.(`script: ${c.toString("utf8").trim()}`),
    );
    input.on("data", onInput);
    input.once("end", onInputEnd);
    input.on("error", onInputEnd);
    if (input.readableEnded) onInputEnd();

    const timer = setInterval(() => {
      const time = this.now();
      void this.enqueue((w) => w.tick(time));
    }, this.options.tickMs ?? 250);

    let status: number;
    try {
      status = await pty.exited;
    } finally {
      this.exited = true;
      clearInterval(timer);
      input.off("data", onInput);
      input.off("end", onInputEnd);
      input.off("error", onInputEnd);
      input.pause();
    }
    const end = this.now();
    void this.enqueue((w) => w.event({ type: "exit", time: end, status }));
    await this.enqueue((w) => w.close(end));
    if (this.failure !== null) throw this.failure;
    return {
      status,
      records: this.writer.records,
      checkpoints: this.writer.checkpointCount,
      unstamped: this.writer.unstampedCount,
      duration: end,
    };
  }

  private resumeOutput(): void {
    if (this.backlog <= MAX_BACKLOG / 2 && !this.options.output.writableNeedDrain)
      this.pty.output.resume();
  }

  /** The trail header as written. */
  get header(): TrailWriter["header"] {
    return this.writer.header;
  }
}
