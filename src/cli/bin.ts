#!/usr/bin/env node
// The only place that sets the process exit code.
import { run } from "./main.js";
import { processIo } from "./process-io.js";

const io = processIo();
run(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`trailseal: error: unexpected failure: ${String(e)}\n`);
    process.exitCode = 2;
  },
);
