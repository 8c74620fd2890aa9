/**
 * The scan inputs on a REAL recording: testdata/recordings/scan/shell.log/.tm, made by util-linux
 * `script --log-io` in a tmux pseudo-terminal typed with `tmux send-keys` (see its generate.sh),
 * imported with the project's script reader. Every line, command, card and title is asserted
 * with its session time and the index of the event that completed it.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SessionEvent, SessionMetadata } from "../src/events.js";
import { readScript } from "../src/formats/script.js";
import { findCards } from "../src/scan/cards.js";
import { readCommands } from "../src/scan/commands.js";
import { screenItems, type ScreenItem } from "../src/scan/screen.js";
import { windowTitles } from "../src/scan/titles.js";
import { collect, file, once } from "./helpers/recordings.js";

const DIR = join(import.meta.dirname, "..", "testdata", "recordings", "scan");

async function load(): Promise<{ metadata: SessionMetadata; events: SessionEvent[] }> {
  const rec = await readScript(
    once(file(join(DIR, "shell.log"))),
    once(file(join(DIR, "shell.tm"))),
  );
  return { metadata: rec.metadata, events: await collect(rec.events) };
}

/** "time ref why screen text", one string a line: the whole screen history reads at a glance. */
const show = (items: readonly ScreenItem[]): string[] =>
  items.flatMap((i) =>
    i.kind === "line" ? [`${i.time} ${i.ref} ${i.why} ${i.screen} ${i.text}`] : [],
  );

const inventory = (prefix: string, from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, k) => {
    const n = String(from + k).padStart(2, "0");
    return `${prefix}inventory line ${n}: host db${n}.example ok`;
  });

/** What the auditor saw, line by line, in the order each line left the screen. */
const SCREEN = [
  "3110825 12 scroll normal admin@db01:~$ echo hello world",
  "3110825 12 scroll normal hello world",
  "3110825 12 scroll normal admin@db01:~$ seq -f 'row %g' 1 30",
  "3110825 12 scroll normal row 1",
  "3110825 12 scroll normal row 2",
  "3110825 12 scroll normal row 3",
  "3110825 12 scroll normal row 4",
  "3110825 12 scroll normal row 5",
  "3110825 12 scroll normal row 6",
  "3114551 13 scroll normal row 7",
  "5636315 26 scroll normal row 8",
  "5636315 26 scroll normal row 9",
  "6465965 30 scroll normal row 10",
  "8155109 38 scroll normal row 11",
  "8155109 38 scroll normal row 12",
  "10624670 50 scroll normal row 13",
  "10624670 50 scroll normal row 14",
  "11471801 54 scroll normal row 15",
  "13132935 63 scroll normal row 16",
  "13132935 63 scroll normal row 17",
  "13957944 67 scroll normal row 18",
  "14812315 72 scroll normal row 19",
  "15661774 75 scroll normal row 20",
  "15661774 75 scroll normal row 21",
  "16504494 79 scroll normal row 22",
  "16504494 79 scroll normal row 23",
  "17348267 83 scroll normal row 24",
  "18208174 87 scroll normal row 25",
  "19656936 99 alternate alternate notes for db01",
  "19656936 99 alternate alternate rotate the backup key",
  ...Array<string>(21).fill("19656936 99 alternate alternate ~"),
  "20504230 104 scroll normal row 26",
  ...inventory("21316925 106 scroll alternate ", 1, 17),
  ...inventory("21738811 108 alternate alternate ", 18, 40),
  "22592144 113 scroll normal row 27",
  "22592144 113 clear normal row 28",
  "22592144 113 clear normal row 29",
  "22592144 113 clear normal row 30",
  "22592144 113 clear normal admin@db01:~$ echo one three",
  "22592144 113 clear normal one three",
  "22592144 113 clear normal admin@db01:~$ sleep 100^C",
  "22592144 113 clear normal admin@db01:~$ echo aXbc",
  "22592144 113 clear normal aXbc",
  "22592144 113 clear normal admin@db01:~$ echo x y",
  "22592144 113 clear normal x y",
  "22592144 113 clear normal admin@db01:~$ tput smkx",
  "22592144 113 clear normal admin@db01:~$ echo 1X2",
  "22592144 113 clear normal 1X2",
  "22592144 113 clear normal admin@db01:~$ tput rmkx",
  "22592144 113 clear normal admin@db01:~$ read -rsp 'Password: ' pw; echo; echo \"got ${#pw} characters\"",
  "22592144 113 clear normal Password:",
  "22592144 113 clear normal got 11 characters",
  "22592144 113 clear normal admin@db01:~$ printf 'card: 4111 1111 1111 1111, ref 4111-1111-1111-1112\\n'",
  "22592144 113 clear normal card: 4111 1111 1111 1111, ref 4111-1111-1111-1112",
  "22592144 113 clear normal admin@db01:~$ printf '\\033]2;db01 maintenance\\007'",
  "22592144 113 clear normal admin@db01:~$ vim -u NONE -N -i NONE notes.txt",
  "22592144 113 clear normal admin@db01:~$ less inventory.txt",
  "22592144 113 clear normal admin@db01:~$ clear",
  "28225213 141 end normal admin@db01:~$ printf '%075d 5555555555554444\\n' 0",
  "28225213 141 end normal 000000000000000000000000000000000000000000000000000000000000000000000000000 5555555555554444",
  "28225213 141 end normal admin@db01:~$ echo done",
  "28225213 141 end normal done",
  "28225213 141 end normal admin@db01:~$ echo completed",
  "28225213 141 end normal completed",
  "28225213 141 end normal admin@db01:~$ echo completed",
  "28225213 141 end normal completed",
  "28225213 141 end normal admin@db01:~$ exit",
  "28225213 141 end normal exit",
];

describe("testdata/recordings/scan/shell.log (script --log-io in tmux)", () => {
  it("is an 80x24 session of 142 events with keystrokes and one resize to 60x20", async () => {
    const { metadata, events } = await load();
    expect([metadata.cols, metadata.rows, metadata.source]).toEqual([80, 24, "script-advanced"]);
    expect(events).toHaveLength(142);
    expect(events.filter((e) => e.type === "resize")).toEqual([
      { type: "resize", time: expect.any(Number) as number, cols: 60, rows: 20 },
    ]);
  });

  it("screen_content: every line as the emulator showed it, with the time and event that made it final", async () => {
    const { metadata, events } = await load();
    expect(show(await collect(screenItems(metadata, events)))).toEqual(SCREEN);
  });

  it("the same lines whatever the chunking: the output fed one byte an event", async () => {
    const { metadata, events } = await load();
    const bytewise = events.flatMap((e): SessionEvent[] =>
      e.type === "output" ? Array.from(e.data, (b) => ({ ...e, data: Uint8Array.of(b) })) : [e],
    );
    const texts = (items: ScreenItem[]) =>
      items.flatMap((i) => (i.kind === "line" ? [`${i.time} ${i.why} ${i.screen} ${i.text}`] : []));
    const strip = (l: string) => l.replace(/^(\d+) \d+ /, "$1 ");
    expect(texts(await collect(screenItems(metadata, bytewise)))).toEqual(SCREEN.map(strip));
  });

  it("command from the keystrokes: edits replayed, the password typed blind marked not echoed, completion and history taken from the screen", async () => {
    const { metadata, events } = await load();
    const commands = await collect(readCommands(metadata, events, { source: "keystrokes" }));
    const typed = (text: string, time: number, ref: number, echoed = true) => ({
      text,
      time,
      ref,
      source: "keystrokes",
      exact: true,
      unseen: [],
      echoed,
    });
    expect(commands).toEqual([
      typed("echo hello world", 2272129, 7),
      typed("seq -f 'row %g' 1 30", 3108799, 11),
      typed("echo one three", 5633004, 25),
      typed("echo aXbc", 8154981, 37),
      typed("echo x y", 10624536, 49),
      typed("tput smkx", 11470086, 53),
      typed("echo 1X2", 13132794, 62),
      typed("tput rmkx", 13956242, 66),
      typed(`read -rsp 'Password: ' pw; echo; echo "got \${#pw} characters"`, 14812160, 71),
      typed("s3cret-pass", 15661611, 74, false),
      typed("printf 'card: 4111 1111 1111 1111, ref 4111-1111-1111-1112\\n'", 16504172, 78),
      typed("printf '\\033]2;db01 maintenance\\007'", 17346825, 82),
      typed("vim -u NONE -N -i NONE notes.txt", 18205435, 86),
      typed("less inventory.txt", 20500290, 103),
      typed("clear", 22589113, 112),
      typed("printf '%075d 5555555555554444\\n' 0", 23424711, 117),
      typed("echo done", 24883400, 123),
      {
        ...typed("echo completed", 26548160, 131),
        source: "screen",
        exact: false,
        unseen: ["completion"],
      },
      {
        ...typed("echo completed", 27383770, 135),
        source: "screen",
        exact: false,
        unseen: ["history"],
      },
      typed("exit", 28224817, 139),
    ]);
  });

  it("command from the screen when the keystrokes are hidden: no password, no ^C line, the output event's time", async () => {
    const { metadata, events } = await load();
    const screenOnly = events.filter((e) => e.type !== "input");
    const commands = await collect(readCommands(metadata, screenOnly, { source: "screen" }));
    expect(commands.map((c) => [c.text, c.time, c.source, c.exact, c.echoed])).toEqual([
      ["echo hello world", 2273002, "screen", true, true],
      ["seq -f 'row %g' 1 30", 3110825, "screen", true, true],
      ["echo one three", 5636315, "screen", true, true],
      ["echo aXbc", 8155109, "screen", true, true],
      ["echo x y", 10624670, "screen", true, true],
      ["tput smkx", 11471801, "screen", true, true],
      ["echo 1X2", 13132935, "screen", true, true],
      ["tput rmkx", 13957944, "screen", true, true],
      [
        `read -rsp 'Password: ' pw; echo; echo "got \${#pw} characters"`,
        14812315,
        "screen",
        true,
        true,
      ],
      [
        "printf 'card: 4111 1111 1111 1111, ref 4111-1111-1111-1112\\n'",
        16504494,
        "screen",
        true,
        true,
      ],
      ["printf '\\033]2;db01 maintenance\\007'", 17348267, "screen", true, true],
      ["vim -u NONE -N -i NONE notes.txt", 18208174, "screen", true, true],
      ["less inventory.txt", 20504230, "screen", true, true],
      ["clear", 22592144, "screen", true, true],
      ["printf '%075d 5555555555554444\\n' 0", 23424929, "screen", true, true],
      ["echo done", 24883828, "screen", true, true],
      ["echo completed", 26550985, "screen", true, true],
      ["echo completed", 27388318, "screen", true, true],
      ["exit", 28225213, "screen", true, true],
    ]);
  });

  it("creditcard: the Visa printed by printf and on its command line, the Mastercard cut by the wrap; the Luhn-failing one not", async () => {
    const { metadata, events } = await load();
    const hits = [];
    for await (const item of screenItems(metadata, events)) {
      if (item.kind !== "line") continue;
      for (const c of findCards(item.text)) hits.push([c.masked, c.issuer, item.time, item.ref]);
    }
    expect(hits).toEqual([
      ["411111******1111", "Visa", 22592144, 113],
      ["411111******1111", "Visa", 22592144, 113],
      ["555555******4444", "Mastercard", 28225213, 141],
      ["555555******4444", "Mastercard", 28225213, 141],
    ]);
  });

  it("window_title: the OSC 2 title printf set, at its output event", async () => {
    const { metadata, events } = await load();
    expect(await collect(windowTitles(metadata, events))).toEqual([
      { title: "db01 maintenance", time: 17348267, ref: 83 },
    ]);
  });
});
