/**
 * scan/commands.ts: the line editor as a table of keystrokes and the line readline would run,
 * the prompt rule for echoed lines, and the reader that joins keystrokes to the screen.
 */
import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../src/events.js";
import { DEFAULT_PROMPT, LineEditor, fromScreen, readCommands } from "../src/scan/commands.js";
import { collect, text } from "./helpers/recordings.js";

const ESC = "\x1b";
const LEFT = `${ESC}[D`;
const RIGHT = `${ESC}[C`;
const SS3_LEFT = `${ESC}OD`;

/** [name, keystrokes, the lines they end as [text, unseen]]. */
const EDITS: [string, string, [string, string[]][]][] = [
  ["plain text and Enter (CR)", "ls -l\r", [["ls -l", []]]],
  ["LF ends a line too", "id\n", [["id", []]]],
  [
    "two lines in one chunk",
    "a\rb\r",
    [
      ["a", []],
      ["b", []],
    ],
  ],
  ["DEL (^?) deletes before the cursor", "echo wrold\x7f\x7f\x7f\x7forld\r", [["echo world", []]]],
  ["BS (^H) deletes before the cursor", "lsx\b -a\r", [["ls -a", []]]],
  ["backspace at the start does nothing", "\x7f\x7fok\r", [["ok", []]]],
  ["^U kills back to the start", "rm -rf /\x15echo safe\r", [["echo safe", []]]],
  ["^U mid-line keeps what is after the cursor", `xx yy${LEFT}${LEFT}\x15\r`, [["yy", []]]],
  [
    "^W kills the word before the cursor, with the spaces before it",
    "echo one two  \x17three\r",
    [["echo one three", []]],
  ],
  [
    "^W on slashes takes the whole path (unix-word-rubout)",
    "cat /etc/shadow\x17passwd\r",
    [["cat passwd", []]],
  ],
  ["^C abandons the line", "rm -rf /\x03ls\r", [["ls", []]]],
  ["left arrows (CSI) and an insert", `echo abc${LEFT}${LEFT}X\r`, [["echo aXbc", []]]],
  ["left arrows in SS3 (keypad mode)", `echo 12${SS3_LEFT}X\r`, [["echo 1X2", []]]],
  [
    "right arrow past the end stays at the end",
    `ab${LEFT}${RIGHT}${RIGHT}${RIGHT}c\r`,
    [["abc", []]],
  ],
  ["Home and End as CSI 1~ and 4~", `cho x${ESC}[1~e${ESC}[4~ y\r`, [["echo x y", []]]],
  [
    "Home and End as CSI H/F and SS3 H/F",
    `b${ESC}[Ha${ESC}[Fc${ESC}OHz${ESC}OF!\r`,
    [["zabc!", []]],
  ],
  ["Home and End as CSI 7~ and 8~ (rxvt)", `b${ESC}[7~a${ESC}[8~c\r`, [["abc", []]]],
  ["^A and ^E", "b\x01a\x05c\r", [["abc", []]]],
  ["^B and ^F", "ac\x02b\x06d\r", [["abcd", []]]],
  [
    "Delete (CSI 3~) and ^D delete under the cursor",
    `abxc${LEFT}${LEFT}${ESC}[3~d\x04\r`,
    [["abd", []]],
  ],
  ["^K kills to the end", `keep drop${LEFT}${LEFT}${LEFT}${LEFT}${LEFT}\x0b\r`, [["keep", []]]],
  ["ESC b / ESC f move by words", `one three${ESC}btwo ${ESC}f!\r`, [["one two three!", []]]],
  ["Ctrl-left (CSI 1;5D) moves by a word", `git push${ESC}[1;5D-f \r`, [["git -f push", []]]],
  [
    "ESC DEL kills the word before the cursor",
    `rm -rf /tmp/x${ESC}\x7fy\r`,
    [["rm -rf /tmp/y", []]],
  ],
  [
    "an arrow with a modifier on a plain move (CSI 1;2D is shift-left)",
    `ab${ESC}[1;2DX\r`,
    [["aXb", []]],
  ],
  [
    "bracketed paste inserts its text as it is, escapes included",
    `${ESC}[200~echo ${ESC}x\x7f${ESC}[201~!\r`,
    [["echo \x1bx\x7f!", []]],
  ],
  ["Tab: completion the editor cannot see", "ech\tdone\r", [["echdone", ["completion"]]]],
  ["Up: history recall", `${ESC}[A\r`, [["", ["history"]]]],
  ["Up in SS3 and ^P: history", `${ESC}OA\x10\r`, [["", ["history"]]]],
  ["^R: history search", "\x12ssh\r", [["ssh", ["search"]]]],
  ["history and completion both", `${ESC}[A\t\r`, [["", ["completion", "history"]]]],
  ["unknown CSI sequences are skipped whole", `a${ESC}[5~${ESC}[24;2~b\r`, [["ab", []]]],
  ["UTF-8 text, and a code point deleted whole", "echo héllo €\x7f😀\r", [["echo héllo 😀", []]]],
  ["no Enter: no line yet", "half typed", []],
];

describe("LineEditor", () => {
  for (const [name, keys, lines] of EDITS) {
    it(name, () => {
      const ed = new LineEditor();
      expect(ed.feed(text(keys)).map((l) => [l.text, l.unseen])).toEqual(lines);
    });
    it(`${name}: the same fed one byte at a time`, () => {
      const ed = new LineEditor();
      const got = Array.from(text(keys)).flatMap((b) => ed.feed(Uint8Array.of(b)));
      expect(got.map((l) => [l.text, l.unseen])).toEqual(lines);
    });
  }
});

describe("fromScreen and DEFAULT_PROMPT", () => {
  const cases: [string, string | null][] = [
    ["admin@db01:~$ ls -l", "ls -l"],
    ["root@db01:/# systemctl stop mysql", "systemctl stop mysql"],
    ["[root@db01 ~]# rm -rf /var/lib/mysql", "rm -rf /var/lib/mysql"],
    ["$ echo plain", "echo plain"],
    ["user% zsh-style", "zsh-style"],
    ["PS C:\\> not one word", null],
    ["bash-5.2$ id", "id"],
    ["admin@db01:~$ ", null],
    ["admin@db01:~$ sleep 100^C", null],
    ["hello world", null],
    ["total 4 $ x", null],
    ["[sudo] password for admin: ", null],
  ];
  for (const [line, command] of cases) {
    it(JSON.stringify(line), () => expect(fromScreen(line)).toBe(command));
  }
  it("a custom prompt", () => {
    expect(fromScreen("mysql> DROP TABLE users;", /^mysql> /)).toBe("DROP TABLE users;");
    expect(DEFAULT_PROMPT.test("mysql> x")).toBe(true);
  });
});

describe("readCommands", () => {
  const out = (time: number, s: string): SessionEvent => ({ type: "output", time, data: text(s) });
  const inp = (time: number, s: string): SessionEvent => ({ type: "input", time, data: text(s) });
  const session: SessionEvent[] = [
    out(0, "$ "),
    inp(1, "ls\r"),
    out(2, "ls\r\nfile\r\n$ "),
    inp(3, "vim f\r"),
    out(4, "vim f\r\n\x1b[?1049h"),
    inp(5, ":wq\r"),
    out(6, "\x1b[?1049l$ "),
    inp(7, "sudo -s\r"),
    out(8, "sudo -s\r\nPassword: "),
    inp(9, "hunter2\r"),
    out(10, "\r\n# "),
    inp(11, "exit\r"),
  ];

  it("keystrokes: keys typed on the alternate screen are not commands; a blind line is not echoed; the last one waits for no echo", async () => {
    const got = await collect(
      readCommands({ cols: 40, rows: 5 }, session, { source: "keystrokes" }),
    );
    expect(got.map((c) => [c.text, c.time, c.ref, c.echoed])).toEqual([
      ["ls", 1, 1, true],
      ["vim f", 3, 3, true],
      ["sudo -s", 7, 7, true],
      ["hunter2", 9, 9, false],
      ["exit", 11, 11, null],
    ]);
    expect(got.every((c) => c.source === "keystrokes" && c.exact)).toBe(true);
  });

  it("screen: the prompted lines only, at the output that ended them", async () => {
    const got = await collect(
      readCommands(
        { cols: 40, rows: 5 },
        session.filter((e) => e.type === "output"),
        { source: "screen" },
      ),
    );
    expect(got.map((c) => [c.text, c.time, c.source])).toEqual([
      ["ls", 2, "screen"],
      ["vim f", 4, "screen"],
      ["sudo -s", 8, "screen"],
    ]);
  });
});
