/**
 * Commands typed in a shell. From the upstream keystrokes, through a line editor that does
 * what readline's emacs mode (bash's default) does with the keys that edit a line; or, when the
 * keystrokes are hidden (no key opens the upstream channel, or they were not recorded), from the
 * screen: the line the cursor left at a line feed, when it starts with a prompt.
 *
 * What neither can know: what tab completion inserted, which history line Up/Down or ^R
 * recalled (such commands are marked inexact, with what was not seen), keys read by a running
 * program rather than the shell, and, from the screen, commands whose echo was off or whose
 * prompt does not look like one.
 */
import type { SessionEvent, SessionMetadata } from "../events.js";
import { screenItems, type ScreenItem } from "./screen.js";

export type CommandSource = "keystrokes" | "screen";

/** What the line editor saw but cannot replay: the command is then not known exactly. */
export type Unseen = "completion" | "history" | "search";

export interface Command {
  readonly text: string;
  /** Session time (µs) of the Enter, and the caller's reference of the event that holds it. */
  readonly time: number;
  readonly ref: number;
  readonly source: CommandSource;
  /** False when tab completion, history recall or search took part (then `unseen` says which). */
  readonly exact: boolean;
  readonly unseen: readonly Unseen[];
  /**
   * Typed commands: whether the line the cursor left next on the screen ends with it (false for
   * a password typed with echo off, or keys a program read without echo; null when the session
   * ended first). Commands read from the screen were echoed by definition.
   */
  readonly echoed: boolean | null;
}

/** A line as the editor ended it: Enter gives a line, ^C abandons one. */
export interface EditedLine {
  readonly text: string;
  readonly unseen: readonly Unseen[];
}

const ESC = 0x1b;

/**
 * A readline-like line editor over keystrokes (code points). Keys (emacs mode): printable text
 * inserts at the cursor; BS/DEL (^H, ^?) delete before it, ^D and Delete (CSI 3~) under it; ^U
 * kills to the start, ^K to the end, ^W the whitespace-delimited word before the cursor; ^A/Home
 * and ^E/End, ^B/^F and the arrows move; ESC b / ESC f and Ctrl- or Alt-arrows move by words,
 * ESC DEL and ESC d kill them; ^C abandons the line;
 * CR or LF ends it. Arrows and Home/End come as CSI (ESC [) or SS3 (ESC O) sequences (ECMA-48
 * 5.4; xterm's application keypad mode sends SS3); Home/End also as CSI 1~/7~ and 4~/8~.
 * Bracketed paste (CSI 200~ … CSI 201~) inserts the text as it is.
 */
export class LineEditor {
  private line: string[] = [];
  private cursor = 0;
  private unseen = new Set<Unseen>();
  /** An escape sequence being read (its bytes so far, as text), or null. */
  private seq: string | null = null;
  private pasting = false;
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });

  /** Feeds keystroke bytes; returns the lines they ended (with Enter), in order. */
  feed(bytes: Uint8Array): EditedLine[] {
    const out: EditedLine[] = [];
    for (const ch of this.decoder.decode(bytes, { stream: true })) {
      const line = this.key(ch);
      if (line !== null) out.push(line);
    }
    return out;
  }

  /** Drops the line being edited (a program took the terminal: its keys are not the shell's). */
  reset(): void {
    this.line = [];
    this.cursor = 0;
    this.unseen = new Set();
    this.seq = null;
    this.pasting = false;
  }

  private key(ch: string): EditedLine | null {
    if (this.seq !== null) return this.escape(ch);
    const c = ch.codePointAt(0)!;
    if (this.pasting) {
      if (c === ESC) this.seq = "";
      else this.insert(ch === "\r" ? "\n" : ch);
      return null;
    }
    if (c === 0x0d || c === 0x0a) return this.enter();
    if (c === ESC) this.seq = "";
    else if (c === 0x7f || c === 0x08) this.deleteBack();
    else if (c === 0x03) this.reset();
    else if (c < 0x20) this.control(c);
    else this.insert(ch);
    return null;
  }

  private control(c: number): void {
    const at = this.cursor;
    switch (c) {
      case 0x01: // ^A
        this.cursor = 0;
        break;
      case 0x05: // ^E
        this.cursor = this.line.length;
        break;
      case 0x02: // ^B
        this.cursor = Math.max(0, at - 1);
        break;
      case 0x06: // ^F
        this.cursor = Math.min(this.line.length, at + 1);
        break;
      case 0x04: // ^D: delete under the cursor (on an empty line it is end of input)
        this.line.splice(at, 1);
        break;
      case 0x0b: // ^K
        this.line.length = at;
        break;
      case 0x15: // ^U
        this.line.splice(0, at);
        this.cursor = 0;
        break;
      case 0x17: // ^W
        this.killWordBack();
        break;
      case 0x09: // Tab
        this.unseen.add("completion");
        break;
      case 0x10: // ^P
      case 0x0e: // ^N
        this.unseen.add("history");
        break;
      case 0x12: // ^R
      case 0x13: // ^S
        this.unseen.add("search");
        break;
    }
  }

  /** The rest of an escape sequence; the whole sequence acts once its final byte has come. */
  private escape(ch: string): EditedLine | null {
    const seq = this.seq! + ch;
    if (seq === "[" || seq === "O" || (seq.startsWith("[") && /^[0-9;?]$/.test(ch))) {
      this.seq = seq;
      return null;
    }
    this.seq = null;
    if (this.pasting) {
      if (seq === "[201~") this.pasting = false;
      else this.insert(`\x1b${seq}`);
      return null;
    }
    const body = seq.startsWith("[") || seq.startsWith("O") ? seq.slice(1) : null;
    if (body === null) this.meta(seq);
    else if (/^1;[35][CD]$/.test(body)) this.meta(body.endsWith("D") ? "b" : "f");
    else this.cursorKey(body.replace(/^1;\d+(?=[A-H])/, ""));
    return null;
  }

  /** CSI/SS3 keys (without the ESC [ or ESC O), modifiers dropped. */
  private cursorKey(key: string): void {
    if (key === "D") this.cursor = Math.max(0, this.cursor - 1);
    else if (key === "C") this.cursor = Math.min(this.line.length, this.cursor + 1);
    else if (key === "H" || key === "1~" || key === "7~") this.cursor = 0;
    else if (key === "F" || key === "4~" || key === "8~") this.cursor = this.line.length;
    else if (key === "3~") this.line.splice(this.cursor, 1);
    else if (key === "A" || key === "B") this.unseen.add("history");
    else if (key === "200~") this.pasting = true;
  }

  /** Meta (ESC then a key): word moves and kills, as readline binds them. */
  private meta(key: string): void {
    if (key === "b") this.cursor = this.wordStartBefore(this.cursor);
    else if (key === "f") this.cursor = this.wordEndAfter(this.cursor);
    else if (key === "\x7f" || key === "\x08") {
      const from = this.wordStartBefore(this.cursor);
      this.line.splice(from, this.cursor - from);
      this.cursor = from;
    } else if (key === "d")
      this.line.splice(this.cursor, this.wordEndAfter(this.cursor) - this.cursor);
  }

  private insert(ch: string): void {
    this.line.splice(this.cursor, 0, ch);
    this.cursor++;
  }

  private deleteBack(): void {
    if (this.cursor === 0) return;
    this.line.splice(this.cursor - 1, 1);
    this.cursor--;
  }

  /** ^W (unix-word-rubout): whitespace before the cursor, then the non-whitespace before that. */
  private killWordBack(): void {
    let from = this.cursor;
    while (from > 0 && /\s/.test(this.line[from - 1]!)) from--;
    while (from > 0 && !/\s/.test(this.line[from - 1]!)) from--;
    this.line.splice(from, this.cursor - from);
    this.cursor = from;
  }

  /** Readline's words (for ESC b, ESC f, ESC DEL) are letters and digits. */
  private wordStartBefore(at: number): number {
    const word = (i: number) => /[\p{L}\p{N}]/u.test(this.line[i]!);
    while (at > 0 && !word(at - 1)) at--;
    while (at > 0 && word(at - 1)) at--;
    return at;
  }

  private wordEndAfter(at: number): number {
    const word = (i: number) => /[\p{L}\p{N}]/u.test(this.line[i]!);
    while (at < this.line.length && !word(at)) at++;
    while (at < this.line.length && word(at)) at++;
    return at;
  }

  private enter(): EditedLine {
    const line = { text: this.line.join(""), unseen: [...this.unseen].sort() };
    this.reset();
    return line;
  }
}

/**
 * A prompt as shells print them by default: one word (bracketed parts may hold spaces, as in
 * `[root@db01 ~]#`) ending in `$`, `#`, `%` or `>`, then a space.
 */
export const DEFAULT_PROMPT = /^(?:\[[^\]]*\]|[^\s[\]$#%>])*[$#%>] /;

export interface CommandOptions {
  /** Where commands come from: the keystrokes when the upstream channel is there, else the screen. */
  source: CommandSource;
  /** For the screen: what a prompt looks like (anchored at the start of the line). */
  prompt?: RegExp;
}

/**
 * Commands from the items of a Screen made with `newlines: true` (keystrokes come through it in
 * their place among the output, so keys typed on an alternate screen, in vim or less, are known
 * not to be the shell's). Items of other kinds pass by.
 */
export class CommandReader {
  private readonly editor = new LineEditor();
  private readonly prompt: RegExp;
  private lastScreen: "normal" | "alternate" = "normal";
  /** A typed command waiting for the line feed that shows whether the shell echoed it. */
  private held: Omit<Command, "echoed"> | null = null;

  constructor(private readonly options: CommandOptions) {
    this.prompt = options.prompt ?? DEFAULT_PROMPT;
  }

  /**
   * The commands an item ends. A typed command is given at the line feed that follows it; when
   * completion or history took part, with the line the shell echoed (then `source` is "screen").
   */
  read(item: ScreenItem): Command[] {
    if (this.options.source === "screen") {
      if (item.kind !== "newline" || item.screen !== "normal") return [];
      const text = fromScreen(item.text, this.prompt);
      if (text === null) return [];
      const { time, ref } = item;
      return [{ text, time, ref, source: "screen", exact: true, unseen: [], echoed: true }];
    }
    if (item.kind === "newline" && item.screen === "normal" && this.held !== null) {
      const held = this.held;
      this.held = null;
      // What completion or history put in the line is only on the screen: take it from there.
      const shown = held.exact ? null : fromScreen(item.text, this.prompt);
      if (shown !== null) return [{ ...held, text: shown, source: "screen", echoed: true }];
      return [{ ...held, echoed: item.text.trimEnd().endsWith(held.text.trimEnd()) }];
    }
    if (item.kind !== "input") return [];
    if (item.screen === "alternate") {
      this.lastScreen = "alternate";
      return [];
    }
    if (this.lastScreen === "alternate") this.editor.reset();
    this.lastScreen = "normal";
    const out: Command[] = [];
    for (const line of this.editor.feed(item.data)) {
      if (line.text.trim() === "" && line.unseen.length === 0) continue;
      out.push(...this.end());
      const { time, ref } = item;
      const exact = line.unseen.length === 0;
      this.held = { text: line.text, time, ref, source: "keystrokes", exact, unseen: line.unseen };
    }
    return out;
  }

  /** At the end of the session: a typed command still waiting, its echo unknown. */
  end(): Command[] {
    const held = this.held;
    this.held = null;
    return held === null ? [] : [{ ...held, echoed: null }];
  }
}

/** The command on an echoed line: after the prompt; none when empty or abandoned with ^C. */
export function fromScreen(line: string, prompt: RegExp = DEFAULT_PROMPT): string | null {
  const m = prompt.exec(line);
  if (m === null || m.index !== 0) return null;
  const text = line.slice(m[0].length).trim();
  return text === "" || text.endsWith("^C") ? null : text;
}

/** Every command of a session, read as `options.source` says; `ref` is the event's index. */
export async function* readCommands(
  metadata: SessionMetadata,
  events: AsyncIterable<SessionEvent> | Iterable<SessionEvent>,
  options: CommandOptions,
): AsyncGenerator<Command> {
  const reader = new CommandReader(options);
  for await (const item of screenItems(metadata, events, { newlines: true }))
    yield* reader.read(item);
  yield* reader.end();
}
