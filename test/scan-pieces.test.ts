/**
 * Lines longer than a piece (16,384 characters): the screen gives them in pieces that overlap by
 * 4,097 characters (src/scan/screen.ts `LinePiece`), and the scanner counts each match once
 * (src/scan/pattern.ts `findIn`). Long lines printed in a sealed session on an 80x24 screen
 * (they leave the top row by row, auto-wrapped): a pattern across each piece boundary is found
 * exactly once, one inside an overlap once (never twice), `^` and `$` only at the line's own
 * start and end, a 4,096-character match that ends at a piece's end once, and card numbers at
 * and across a boundary counted once each.
 */
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionEvent } from "../src/events.js";
import { compilePattern } from "../src/scan/pattern.js";
import { adHocRules, scanTrail, type ScanRule } from "../src/scan/scan.js";
import { newText, screenItems } from "../src/scan/screen.js";
import { certDer, stanzaKey, TESTDATA } from "./helpers/fixtures.js";
import { runCli } from "./helpers/io.js";
import { collect, text } from "./helpers/recordings.js";

const dir = mkdtempSync(join(tmpdir(), "trailseal-scan-pieces-"));
const p = (n: string) => join(dir, n);

/** A line of `length` dots with `marks` written at their offsets. */
function line(length: number, marks: Record<number, string>): string {
  const chars = ".".repeat(length).split("");
  for (const [at, s] of Object.entries(marks)) chars.splice(Number(at), s.length, ...s.split(""));
  expect(chars.length).toBe(length);
  return chars.join("");
}

// Pieces of a line: [0, 16384), [12287, 28671), [24574, …); each after the first searched from
// its second character. The boundaries (piece ends) are at 16,384 and 28,671.
const CARD = "4111 1111 1111 1111";
const LINES = [
  line(40_000, {
    0: "LINESTART",
    16_380: "CROSSONE", // across the end of piece 0
    25_000: "INOVERLAP", // in pieces 1 and 2
    24_575: "Q", // the first character piece 2 searches: not a line start
    28_668: "CROSSTWO", // across the end of piece 1 ("CRO" ends it)
    39_990: "LINEEND", // the line ends 3 dots later
  }),
  // A 4,096-character match that ends exactly at piece 0's end, starting in what piece 1 repeats.
  line(20_000, { 12_288: `A${"B".repeat(4094)}C` }),
  line(30_000, {
    13_000: CARD, // inside the overlap of pieces 0 and 1
    16_376: CARD, // across the end of piece 0
    28_652: CARD, // ends exactly at piece 1's end
    29_000: CARD, // in piece 2 only
  }),
];

/** One policy per pattern, so every match counts on its own. */
const rule = (source: string): ScanRule => ({
  index: 0,
  policy: source,
  key: null,
  selection: "screen_content",
  match: [compilePattern(source)],
  ignore: [],
  actions: null,
});

const events = (): SessionEvent[] => [
  { type: "output", time: 100_000, data: text("$ cat long\r\n") },
  ...LINES.map((l, i): SessionEvent => ({
    type: "output",
    time: 200_000 * (i + 1),
    data: text(`${l}\r\n`),
  })),
  { type: "output", time: 900_000, data: text("$ ") },
];

beforeAll(async () => {
  const cast = [
    JSON.stringify({ version: 2, width: 80, height: 24, timestamp: 1764000000 }),
    ...events().map((e) =>
      JSON.stringify([e.time / 1e6, "o", Buffer.from((e as { data: Uint8Array }).data).toString()]),
    ),
    "",
  ].join("\n");
  writeFileSync(p("long.cast"), cast);
  const a = join(TESTDATA, "certs", "rsa2048-a.crt");
  const create = await runCli([
    "policy",
    "create",
    "--name",
    "t",
    "--encrypt",
    a,
    "-o",
    p("p.json"),
  ]);
  expect(create.code).toBe(0);
  const seal = await runCli(["seal", "--policy", p("p.json"), p("long.cast"), "-o", p("l.trail")]);
  expect([seal.code, seal.stderr]).toEqual([0, ""]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("long lines in overlapping pieces", () => {
  it("the screen gives each long line in pieces that overlap; newText puts it back exactly", async () => {
    const items = await collect(screenItems({ cols: 80, rows: 24 }, events()));
    const lines = items.flatMap((i) => (i.kind === "line" ? [i] : []));
    expect(lines.map((l) => [l.text.length, l.piece ?? null]).filter(([n]) => n !== 0)).toEqual([
      [10, null],
      [16_384, { index: 0, overlap: 0, carried: 4097 }],
      [16_384, { index: 1, overlap: 4097, carried: 4097 }],
      [40_000 - 24_574, { index: 2, overlap: 4097, carried: 0 }],
      [16_384, { index: 0, overlap: 0, carried: 4097 }],
      [20_000 - 12_287, { index: 1, overlap: 4097, carried: 0 }],
      [16_384, { index: 0, overlap: 0, carried: 4097 }],
      [16_384, { index: 1, overlap: 4097, carried: 4097 }],
      [30_000 - 24_574, { index: 2, overlap: 4097, carried: 0 }],
      [1, null],
    ]);
    let whole = "";
    for (const l of lines) {
      const { text: t, ends } = newText(l);
      whole += ends ? `${t}\n` : t;
    }
    expect(whole).toBe(`$ cat long\n${LINES.join("\n")}\n$\n`);
  });

  it("each match is found once, across a boundary or in an overlap; ^ and $ only at the line's ends", async () => {
    const patterns = [
      "^LINESTART",
      "CROSSONE",
      "CROSSTWO",
      "INOVERLAP",
      "^Q",
      "CROS$", // piece 0 ends with "CROS": not the line's end
      "CRO$", // piece 1 ends with "CRO"
      "LINEEND\\.*$",
      "\\bINOVERLAP\\b",
      "AB+C",
      "Q\\.",
    ];
    const scan = await scanTrail(() => createReadStream(p("l.trail")), "l.trail", {
      rules: [...patterns.map(rule), ...adHocRules({ creditcard: true })],
      keys: [stanzaKey("certs/rsa2048-a.key")],
      anchors: [certDer("pki/root-ca.pem")],
    });
    const found = scan.hits.map((h) => [
      h.rule.policy,
      h.text.length > 20 ? h.text.length : h.text,
    ]);
    expect(found).toEqual([
      ["^LINESTART", "LINESTART"],
      ["CROSSONE", "CROSSONE"],
      ["INOVERLAP", "INOVERLAP"],
      ["\\bINOVERLAP\\b", "INOVERLAP"],
      ["Q\\.", "Q."],
      ["CROSSTWO", "CROSSTWO"],
      ["LINEEND\\.*$", "LINEEND..."],
      ["AB+C", 4096],
      ...Array.from({ length: 4 }, () => ["ad-hoc", "411111******1111"]),
    ]);
    // Four cards on the third line, each counted once (in an overlap, across and at a piece's end).
    expect(scan.cards).toBe(4);
  });
});
