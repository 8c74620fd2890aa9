/**
 * A pool of worker threads for archive-scale work (verify, scan): tasks go out one per idle
 * worker, outcomes come back as each finishes. A worker that dies in the middle of a task (an
 * uncaught exception, an exit, its heap limit) is replaced, and its task is reported as failed:
 * one hostile input never stops, slows or crashes the others.
 *
 * Memory stays bounded whatever the number of tasks: inputs are pulled from their iterator only
 * when a worker is free, and never more than `window` past the oldest unfinished task, so a
 * caller that restores input order (`inOrder`) holds at most `window` outcomes.
 *
 * The worker module calls `serveTasks(handler)`; what it needs once (trust anchors, keys) comes
 * in `workerData`, cloned into each worker's memory: secrets never pass through a file or the
 * environment on the way.
 */
import { parentPort, Worker, type ResourceLimits } from "node:worker_threads";
import { TrailsealError, type ErrorCode } from "../errors.js";
import type { TrailInput } from "./inputs.js";

/** A task's failure, as plain data (it crosses threads). */
export interface TaskError {
  readonly code: ErrorCode;
  readonly message: string;
}

export type TaskOutcome<T, R> =
  | { readonly index: number; readonly input: T; readonly ok: true; readonly result: R }
  | { readonly index: number; readonly input: T; readonly ok: false; readonly error: TaskError };

export interface PoolOptions<T, R> {
  /** Worker threads; 0 runs every task in this thread with `inline` (one at a time). */
  readonly size: number;
  /** The worker module (it calls `serveTasks`). */
  readonly worker?: URL;
  readonly workerData?: unknown;
  /** The same work in this thread, for `size` 0. */
  readonly inline?: (input: T) => Promise<R>;
  /** Tasks started past the oldest unfinished one, at most (default 64 per worker). */
  readonly window?: number;
  readonly resourceLimits?: ResourceLimits;
  /**
   * A task still running this long after its worker began it is stopped: the worker is
   * terminated and replaced, the task reported as failed (a file that never yields its bytes,
   * such as a FIFO or a hung network share, holds no worker forever). Default: no limit.
   */
  readonly taskTimeoutMs?: number;
  /** Names a task's input in messages (default: String). */
  readonly name?: (input: T) => string;
}

interface TaskMessage<T> {
  readonly index: number;
  readonly input: T;
}

/** An error as data: a TrailsealError keeps its code; anything else is an internal failure. */
export function taskError(e: unknown): TaskError {
  if (e instanceof TrailsealError) return { code: e.code, message: e.message };
  const message = e instanceof Error ? e.message : String(e);
  return { code: "WORKER_FAILED", message: `unexpected failure: ${message}` };
}

/**
 * Runs `handler` for each task the pool sends this worker, one at a time. Call it once, at the
 * top of the worker module.
 */
export function serveTasks<T, R>(handler: (input: T) => Promise<R>): void {
  const port = parentPort;
  if (port === null) throw new Error("serveTasks runs in a worker thread");
  // Loaded and listening: a task's time limit counts from here, not from the thread's start.
  port.postMessage({ ready: true });
  port.on("message", (m: TaskMessage<T>) => {
    handler(m.input).then(
      (result) => port.postMessage({ ok: true, result }),
      (e: unknown) => port.postMessage({ ok: false, error: taskError(e) }),
    );
  });
}

/**
 * How to start the worker module: as it is when built (`.js`); from TypeScript sources (tests
 * run them with a TypeScript loader, which worker threads do not inherit) through tsx, loaded
 * first inside the worker.
 */
function workerScript(url: URL): [URL | string, { eval?: boolean }] {
  if (!url.pathname.endsWith(".ts")) return [url, {}];
  const loader = "tsx/esm/api"; // a devDependency: only sources are run this way
  const load = `import(${JSON.stringify(loader)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return [load, { eval: true }];
}

type Reply<R> = { ready: true } | { ok: true; result: R } | { ok: false; error: TaskError };

/** One worker thread and the task it is on. */
class Slot<T, R> {
  private worker!: Worker;
  task: TaskMessage<T> | null = null;
  /** The worker has loaded its module (it sent `ready`). */
  private ready = false;
  private timer: NodeJS.Timeout | undefined;
  /** Why the pool stopped this worker (its task's time limit), or null. */
  private stopped: string | null = null;

  constructor(
    private readonly options: PoolOptions<T, R>,
    private readonly report: (slot: Slot<T, R>, outcome: TaskOutcome<T, R>) => void,
  ) {
    this.start();
  }

  private start(): void {
    const [script, how] = workerScript(this.options.worker!);
    const worker = new Worker(script, {
      ...how,
      workerData: this.options.workerData,
      ...(this.options.resourceLimits === undefined
        ? {}
        : { resourceLimits: this.options.resourceLimits }),
    });
    let failure: string | null = null;
    this.ready = false;
    this.stopped = null;
    worker.on("message", (reply: Reply<R>) => {
      if ("ready" in reply) {
        this.ready = true;
        this.startClock();
        return;
      }
      clearTimeout(this.timer);
      const task = this.task!;
      this.task = null;
      this.report(this, { index: task.index, input: task.input, ...reply });
    });
    worker.on("error", (e) => {
      failure = e.message;
    });
    worker.on("exit", (code) => {
      if (this.worker !== worker) return;
      clearTimeout(this.timer);
      const task = this.task;
      const why = this.stopped ?? failure ?? `exit code ${code}`;
      this.task = null;
      this.start();
      if (task === null) return;
      const name = (this.options.name ?? String)(task.input);
      this.report(this, {
        index: task.index,
        input: task.input,
        ok: false,
        error: {
          code: "WORKER_FAILED",
          message: `the worker on ${name} died (${why}); the other inputs go on`,
        },
      });
    });
    this.worker = worker;
  }

  send(task: TaskMessage<T>): void {
    this.task = task;
    this.worker.postMessage(task);
    this.startClock();
  }

  /** Starts the task's time limit once the worker is ready and on a task. */
  private startClock(): void {
    const ms = this.options.taskTimeoutMs;
    if (ms === undefined || !this.ready || this.task === null) return;
    const worker = this.worker;
    this.timer = setTimeout(() => {
      this.stopped = `stopped after ${ms / 1000} s without finishing`;
      void worker.terminate();
    }, ms);
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    const worker = this.worker;
    this.worker = undefined as unknown as Worker;
    await worker.terminate();
  }
}

/**
 * Outcomes of `handler` over `inputs`, as each finishes (completion order; `index` is the input's
 * position). Never throws for a task's failure: it is an outcome with `ok: false`.
 */
export async function* runPool<T, R>(
  inputs: AsyncIterable<T>,
  options: PoolOptions<T, R>,
): AsyncGenerator<TaskOutcome<T, R>> {
  if (options.size === 0) {
    yield* runInline(inputs, options);
    return;
  }
  const window = options.window ?? 64 * options.size;
  const finished: TaskOutcome<T, R>[] = [];
  let wake: (() => void) | null = null;
  const idle: Slot<T, R>[] = [];
  const report = (slot: Slot<T, R>, outcome: TaskOutcome<T, R>) => {
    finished.push(outcome);
    idle.push(slot);
    wake?.();
  };
  const slots = Array.from({ length: options.size }, () => new Slot(options, report));
  idle.push(...slots);
  const running = new Set<number>();
  const it = inputs[Symbol.asyncIterator]();
  let next = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && idle.length > 0 && withinWindow(running, next, window)) {
        const n = await it.next();
        if (n.done === true) {
          exhausted = true;
          break;
        }
        running.add(next);
        idle.pop()!.send({ index: next++, input: n.value });
      }
      if (finished.length === 0) {
        if (exhausted && running.size === 0) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
      for (let o = finished.shift(); o !== undefined; o = finished.shift()) {
        running.delete(o.index);
        yield o;
      }
    }
  } finally {
    await Promise.all(slots.map((s) => s.close()));
    if (!exhausted) await it.return?.();
  }
}

function withinWindow(running: ReadonlySet<number>, next: number, window: number): boolean {
  if (running.size === 0) return true;
  let oldest = next;
  for (const i of running) oldest = Math.min(oldest, i);
  return next - oldest < window;
}

async function* runInline<T, R>(
  inputs: AsyncIterable<T>,
  options: PoolOptions<T, R>,
): AsyncGenerator<TaskOutcome<T, R>> {
  const handler = options.inline;
  if (handler === undefined) throw new Error("runPool: size 0 needs an inline handler");
  let index = 0;
  for await (const input of inputs) {
    try {
      yield { index, input, ok: true, result: await handler(input) };
    } catch (e) {
      yield { index, input, ok: false, error: taskError(e) };
    }
    index++;
  }
}

/**
 * The same outcomes in input order. It holds only the outcomes that finished before an earlier
 * one, at most the pool's window.
 */
export async function* inOrder<T, R>(
  outcomes: AsyncIterable<TaskOutcome<T, R>>,
): AsyncGenerator<TaskOutcome<T, R>> {
  const early = new Map<number, TaskOutcome<T, R>>();
  let next = 0;
  for await (const o of outcomes) {
    early.set(o.index, o);
    for (let ready = early.get(next); ready !== undefined; ready = early.get(next)) {
      early.delete(next++);
      yield ready;
    }
  }
}

/** Heap limit of each worker, MiB: far above what one trail needs (memory is bounded by design). */
const WORKER_HEAP_MB = 512;

/** How an archive command (verify, scan) runs its trails: options both take. */
export interface TrailPoolOptions {
  /** Worker threads; 0 works through the trails in this thread, one at a time. */
  readonly jobs: number;
  /**
   * A trail not done this long after its worker began it is WORKER_FAILED and its worker
   * replaced (with `jobs` 0, the trail goes to one worker). Default: no limit.
   */
  readonly trailTimeoutMs?: number;
}

/** What an archive command does to each trail, in a worker or in this thread. */
export interface TrailWork<S, R> {
  /** The worker module beside this one: `verify-worker` or `scan-worker`. */
  readonly worker: "verify-worker" | "scan-worker";
  /** Sent once to each worker. */
  readonly setup: S;
  /** The same work in this thread, for `jobs` 0 (without a time limit). */
  readonly inline: (input: TrailInput) => Promise<R>;
}

/** runPool over trails: each worker with its heap limit, a trail named by its path. */
export function runTrails<S, R>(
  inputs: AsyncIterable<TrailInput>,
  options: TrailPoolOptions,
  work: TrailWork<S, R>,
): AsyncGenerator<TaskOutcome<TrailInput, R>> {
  // Built, the worker is the .js beside this module (bundled or not); from sources, the .ts.
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  return runPool(inputs, {
    // A time limit needs a thread to stop: one trail with a limit goes to one worker.
    size: options.jobs === 0 && options.trailTimeoutMs !== undefined ? 1 : options.jobs,
    worker: new URL(`./${work.worker}${ext}`, import.meta.url),
    workerData: work.setup,
    inline: work.inline,
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    ...(options.trailTimeoutMs === undefined ? {} : { taskTimeoutMs: options.trailTimeoutMs }),
    name: (input) => input.path,
  });
}
