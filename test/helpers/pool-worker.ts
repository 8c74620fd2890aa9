/** A worker for test/archive.test.ts: squares numbers, and misbehaves on the inputs that ask it to. */
import { workerData } from "node:worker_threads";
import { TrailsealError } from "../../src/errors.js";
import { serveTasks } from "../../src/archive/pool.js";

const { offset } = workerData as { offset: number };

serveTasks(
  async (input: { n: number; act?: "exit" | "throw" | "fail" | "slow" | "oom" | "spin" }) => {
    switch (input.act) {
      case "exit":
        // Dies in the middle of its task, as a crashed or killed worker does.
        process.exit(7);
        break;
      case "throw":
        setImmediate(() => {
          throw new Error("boom outside the task's promise");
        });
        await new Promise((r) => setTimeout(r, 10_000));
        break;
      case "fail":
        throw new TrailsealError("TRAIL_INVALID", `input ${input.n} is not a trail`);
      case "slow":
        await new Promise((r) => setTimeout(r, 300));
        break;
      case "spin":
        // Busy for ever, never yielding: only stopping its thread ends it.
        for (;;);
      case "oom": {
        const hog: number[][] = [];
        for (;;) hog.push(new Array(1_000_000).fill(input.n));
      }
    }
    return input.n * input.n + offset;
  },
);
