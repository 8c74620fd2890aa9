/**
 * scan/screen.ts on byte sequences with a known screen: every way a terminal drops a row
 * (ECMA-48 SU/SD/IL/DL/ED, RI, RIS, a line feed at the bottom of the screen or of a scroll
 * region, leaving the alternate screen, a resize), auto-wrapped lines, UTF-8 split across events,
 * and bounded memory over a long session.
 */
import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../src/events.js";
import { newText, Screen, screenItems, type ScreenItem } from "../src/scan/screen.js";
import { collect, text } from "./helpers/recordings.js";

const out = (time: number, s: string | Uint8Array): SessionEvent => ({
  type: "output",
  time,
  data: typeof s === "string" ? text(s) : s,
});

/** The lines of a session on a small screen, as "why screen text". */
async function lines(
  chunks: readonly (string | SessionEvent)[],
  size = { cols: 20, rows: 4 },
): Promise<string[]> {
  const events = chunks.map((c, i) => (typeof c === "string" ? out(i * 10, c) : c));
  const items = await collect(screenItems(size, events));
  return items.flatMap((i) => (i.kind === "line" ? [`${i.why} ${i.screen[0]} ${i.text}`] : []));
}

describe("Screen: rows leave as a terminal drops them", () => {
  const cases: [string, string[], string[]][] = [
    [
      "lines scrolled off the top, then the final screen",
      ["a\r\nb\r\nc\r\nd\r\ne\r\nf"],
      ["scroll n a", "scroll n b", "end n c", "end n d", "end n e", "end n f"],
    ],
    [
      "a blank line that scrolled is kept; blank rows under the final screen are not",
      ["a\r\n\r\nb\r\nc\r\nd\r\n"],
      ["scroll n a", "scroll n ", "end n b", "end n c", "end n d"],
    ],
    [
      "an overwrite with CR shows its last state only",
      ["progress 10%\rprogress 99%\r\n"],
      ["end n progress 99%"],
    ],
    [
      "cursor movement writes where it moves (CUP), spaces at the end trimmed",
      ["\x1b[2;5Hx   \x1b[1;1Hy"],
      ["end n y", "end n     x"],
    ],
    [
      "ED 2 (clear) gives the screen, then it is blank",
      ["one\r\ntwo\x1b[H\x1b[2Jthree"],
      ["clear n one", "clear n two", "end n three"],
    ],
    [
      "ED 0 from home, as `clear` sends it (CSI H CSI J CSI 3J)",
      ["one\r\ntwo\x1b[H\x1b[J\x1b[3Jnew"],
      ["clear n one", "clear n two", "end n new"],
    ],
    [
      "ED 0 mid-screen gives only the rows it blanks whole",
      ["r1\r\nr2\r\nr3\r\nr4\x1b[2;2H\x1b[J"],
      ["clear n r3", "clear n r4", "end n r1", "end n r"],
    ],
    [
      "ED 1 gives the rows above the cursor; the cursor's row keeps what is right of it",
      ["r1\r\nr2\r\nr3\x1b[3;1H\x1b[1J"],
      ["clear n r1", "clear n r2", "end n ", "end n ", "end n  3"],
    ],
    [
      "DL (CSI M) deletes rows at the cursor",
      ["r1\r\nr2\r\nr3\r\nr4\x1b[2;1H\x1b[2M"],
      ["scroll n r2", "scroll n r3", "end n r1", "end n r4"],
    ],
    [
      "IL (CSI L) pushes the bottom rows out",
      ["r1\r\nr2\r\nr3\r\nr4\x1b[1;1H\x1b[1L"],
      ["scroll n r4", "end n ", "end n r1", "end n r2", "end n r3"],
    ],
    [
      "SU (CSI S) scrolls the region up without a line feed",
      ["r1\r\nr2\r\nr3\r\nr4\x1b[2S"],
      ["scroll n r1", "scroll n r2", "end n r3", "end n r4"],
    ],
    [
      "SD (CSI T) scrolls down: the bottom rows go",
      ["r1\r\nr2\r\nr3\r\nr4\x1b[1T"],
      ["scroll n r4", "end n ", "end n r1", "end n r2", "end n r3"],
    ],
    [
      "RI (ESC M) at the top pushes the bottom row out",
      ["r1\r\nr2\r\nr3\r\nr4\x1b[1;1H\x1bMtop"],
      ["scroll n r4", "end n top", "end n r1", "end n r2", "end n r3"],
    ],
    [
      "a line feed at the bottom of a scroll region (DECSTBM) drops the region's top row",
      ["head\x1b[2;3r\x1b[2;1Hx1\r\nx2\r\nx3\r\nx4"],
      ["scroll n x1", "scroll n x2", "end n head", "end n x3", "end n x4"],
    ],
    ["RIS (ESC c) gives the screen", ["before\x1bcafter"], ["reset n before", "end n after"]],
    [
      "the alternate screen: its rows when it is left; the normal screen comes back",
      ["shell$ vim\r\n\x1b[?1049h\x1b[H\x1b[2Jfile text\r\n~\x1b[?1049lshell$ "],
      ["alternate a file text", "alternate a ~", "end n shell$ vim", "end n shell$"],
    ],
    [
      "the alternate screen still shown at the end comes after the normal one",
      ["shell$ less f\r\n\x1b[?1049hpage"],
      ["end n shell$ less f", "end a page"],
    ],
    [
      "inside the alternate screen, rows that scroll are given, blank ones are not",
      ["\x1b[?1049h\x1b[Ha1\r\na2\r\na3\r\na4\r\n\r\n\r\n"],
      ["scroll a a1", "scroll a a2", "scroll a a3", "end a a4"],
    ],
    [
      "an auto-wrapped line leaves whole, even row by row off the top",
      ["0123456789abcdefghijKLMNOPQRST!\r\nx\r\ny\r\nz\r\nw"],
      ["scroll n 0123456789abcdefghijKLMNOPQRST!", "end n x", "end n y", "end n z", "end n w"],
    ],
    [
      "a wrapped line cut at the top when the alternate screen opens is given as far as it left",
      ["0123456789abcdefghijKLMNOPQRST!\r\nx\r\ny\r\n\x1b[?1049hA\x1b[?1049l"],
      ["scroll n 0123456789abcdefghij", "alternate a A", "end n KLMNOPQRST!", "end n x", "end n y"],
    ],
    [
      "a wrapped line cleared whole keeps its spaces at the wrap",
      ["0123456789abcdefghi KLM\x1b[2J"],
      ["clear n 0123456789abcdefghi KLM"],
    ],
  ];
  for (const [name, input, expected] of cases) {
    it(name, async () => {
      expect(await lines(input)).toEqual(expected);
    });
  }

  it("a resize that takes rows away gives the rows it pushes off the top; other rows rewrap to the width", async () => {
    expect(
      await lines([
        "r1\r\nr2\r\nr4 is a longer row\r\n",
        { type: "resize", time: 5, cols: 10, rows: 2 },
        "!",
      ]),
    ).toEqual(["resize n r1", "resize n r2", "end n r4 is a longer row", "end n !"]);
  });

  it("xterm does not rewrap the cursor's row when the width shrinks: it is cut, as a terminal shows it", async () => {
    expect(
      await lines([
        "r1\r\nr2\r\nr3\r\nr4 is a longer row",
        { type: "resize", time: 5, cols: 10, rows: 2 },
        "!",
      ]),
    ).toEqual(["resize n r1", "resize n r2", "end n r3", "end n r4 is a l!"]);
  });

  it("UTF-8 split across events, wide and combining characters read as shown", async () => {
    const bytes = text("é € 😀 宽 e\u0301\r\n");
    expect(
      await lines([
        out(0, bytes.subarray(0, 1)),
        out(1, bytes.subarray(1, 5)),
        out(2, bytes.subarray(5)),
      ]),
    ).toEqual(["end n é € 😀 宽 e\u0301"]);
  });

  it("each line carries the time and ref of the event that completed it, not of the one that wrote it", async () => {
    const screen = new Screen({ cols: 10, rows: 2 });
    const items: ScreenItem[] = [];
    items.push(...(await screen.push(out(100, "a\r\n"), 7)));
    items.push(...(await screen.push({ type: "input", time: 150, data: text("ls\r") }, 8)));
    items.push(...(await screen.push(out(200, "b\r\n"), 9)));
    items.push(...(await screen.push(out(300, "c"), 10)));
    items.push(...(await screen.end()));
    expect(items).toEqual([
      { kind: "input", data: text("ls\r"), time: 150, ref: 8, screen: "normal" },
      { kind: "line", text: "a", time: 200, ref: 9, screen: "normal", why: "scroll" },
      { kind: "line", text: "b", time: 300, ref: 10, screen: "normal", why: "end" },
      { kind: "line", text: "c", time: 300, ref: 10, screen: "normal", why: "end" },
    ]);
  });

  it("with newlines: the row the cursor left at each line feed, wrapped rows joined", async () => {
    const items = await collect(
      screenItems({ cols: 10, rows: 3 }, [out(1, "$ echo 0123456789\r\n0123456789\r\n$ ")], {
        newlines: true,
      }),
    );
    expect(
      items.filter((i) => i.kind === "newline").map((i) => i.kind === "newline" && i.text),
    ).toEqual(["$ echo 0123456789", "0123456789"]);
  });

  it("an endless line without a line feed is given in pieces of maxLine characters that overlap by maxMatch + 1", async () => {
    const line = Array.from({ length: 95 }, (_, i) => String.fromCharCode(33 + (i % 90))).join("");
    const items = await collect(
      screenItems({ cols: 10, rows: 2 }, [out(1, line)], { maxLine: 40, maxMatch: 9 }),
    );
    const lines = items.flatMap((i) => (i.kind === "line" ? [i] : []));
    expect(lines.map((i) => [i.why, i.text, i.piece])).toEqual([
      ["scroll", line.slice(0, 40), { index: 0, overlap: 0, carried: 10 }],
      ["scroll", line.slice(30, 70), { index: 1, overlap: 10, carried: 10 }],
      ["end", line.slice(60), { index: 2, overlap: 10, carried: 0 }],
    ]);
    expect(lines.map((i) => newText(i).text).join("")).toBe(line);
    expect(() => new Screen({}, { maxLine: 40, maxMatch: 39 })).toThrow(
      expect.objectContaining({
        code: "USAGE",
        message: "a screen's maxMatch must be from 1 to maxLine - 2",
      }),
    );
  });

  it("bounded: 200,000 lines stream out while they are fed, never held", async () => {
    const screen = new Screen({ cols: 80, rows: 24 });
    const line = "0123456789".repeat(7) + "\r\n";
    let most = 0;
    let total = 0;
    for (let i = 0; i < 2000; i++) {
      const got = await screen.push(out(i, line.repeat(100)), i);
      most = Math.max(most, got.length);
      total += got.length;
    }
    total += (await screen.end()).length;
    expect(total).toBe(200_000);
    // The emulator runs at most a window (256 KiB, ~3,600 of these lines) behind the feed.
    expect(most).toBeLessThan(5_000);
  });
});
