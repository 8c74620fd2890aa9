/* global process */
// Why does a command load a module? `node scripts/why-loaded.mjs src/cli/verify.ts re2js` prints
// the shortest chain of static imports from the first file to any input whose path contains the
// second argument (a package or a source file), read from the metafile that scripts/bundle.mjs
// writes to dist/bundle-meta.json. Dynamic import()s are not followed: what they load is loaded
// only when the code runs them, in a chunk of its own. Exit status 1 when there is no such chain.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [from, target] = process.argv.slice(2);
if (from === undefined || target === undefined) {
  process.stderr.write("usage: node scripts/why-loaded.mjs FROM-SOURCE TARGET-SUBSTRING\n");
  process.exit(2);
}
const meta = join(import.meta.dirname, "..", "dist", "bundle-meta.json");
const { inputs } = JSON.parse(readFileSync(meta, "utf8"));
if (inputs[from] === undefined) {
  process.stderr.write(`${from} is not an input of the bundle (${meta})\n`);
  process.exit(2);
}
const previous = new Map([[from, null]]);
const queue = [from];
while (queue.length > 0) {
  const file = queue.shift();
  if (file.includes(target)) {
    const chain = [];
    for (let f = file; f !== null; f = previous.get(f)) chain.unshift(f);
    process.stdout.write(`${chain.join("\n  -> ")}\n`);
    process.exit(0);
  }
  for (const i of inputs[file]?.imports ?? []) {
    if (i.kind !== "import-statement" || i.external || previous.has(i.path)) continue;
    previous.set(i.path, file);
    queue.push(i.path);
  }
}
process.stdout.write(`${from} does not import ${target} statically\n`);
process.exit(1);
