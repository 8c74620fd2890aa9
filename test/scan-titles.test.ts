/** scan/titles.ts: window titles from OSC 0 and OSC 2, BEL- or ST-terminated, split or not. */
import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../src/events.js";
import { windowTitles } from "../src/scan/titles.js";
import { collect, text } from "./helpers/recordings.js";

const out = (time: number, s: string): SessionEvent => ({ type: "output", time, data: text(s) });

describe("windowTitles", () => {
  it("OSC 0 and OSC 2 with BEL and ST; OSC 1 (icon name only) is not a title", async () => {
    const events = [
      out(10, "\x1b]0;root@db01: ~\x07$ "),
      out(20, "x\x1b]2;deploy — étape 2\x1b\\y"),
      out(30, "\x1b]1;icon only\x07"),
      out(40, "\x1b]2;\x07"),
    ];
    expect(await collect(windowTitles({ cols: 80, rows: 24 }, events))).toEqual([
      { title: "root@db01: ~", time: 10, ref: 0 },
      { title: "deploy — étape 2", time: 20, ref: 1 },
      { title: "", time: 40, ref: 3 },
    ]);
  });

  it("a title split across events is set by the event that ends it", async () => {
    const events = [
      out(10, "\x1b]2;split "),
      { type: "input", time: 15, data: text("q") } as const,
      out(20, "title\x07"),
    ];
    expect(await collect(windowTitles({}, events))).toEqual([
      { title: "split title", time: 20, ref: 2 },
    ]);
  });

  it("title-like text that is not an OSC (printed, or a different OSC number) is not a title", async () => {
    const events = [out(1, "]2;fake\x07 \x1b]7;file://host/tmp\x07 \x1b]52;c;aGk=\x07")];
    expect(await collect(windowTitles({}, events))).toEqual([]);
  });
});
