/**
 * The screen as the auditor saw it: downstream bytes through a real terminal emulator
 * (@xterm/headless), with the recording's size and its resizes, giving each line of text when it
 * is final: when it leaves the screen (scrolled off the top of the screen or of a scroll region,
 * deleted, pushed out by an insert), when the screen is cleared, reset or its alternate screen
 * left, when a resize reflows it away, and at the end of the session (the final screen).
 *
 * Memory is bounded by the screen size: the emulator keeps no scrollback, because every line is
 * taken just before the emulator drops it. xterm parses asynchronously; events are written in
 * order and each write's callback marks the next event as the one being parsed, so every line
 * carries the time and reference of the event that completed it.
 */
import xterm from "@xterm/headless";
import type {
  IBuffer,
  IBufferLine,
  IBufferNamespace,
  Terminal as XtermTerminal,
} from "@xterm/headless";
import { TrailsealError } from "../errors.js";
import type { SessionEvent, SessionMetadata } from "../events.js";

/** Why a line became final. */
export type LineEnd = "scroll" | "clear" | "alternate" | "reset" | "resize" | "end";

/**
 * Where an item stands in a line longer than `maxLine`, given in pieces: each piece after the
 * first starts with the end of the one before (`maxMatch` + 1 characters), so a match up to
 * `maxMatch` characters long lies whole in one piece wherever it is in the line.
 */
export interface LinePiece {
  /** 0 for the first piece of the line. */
  readonly index: number;
  /** Characters at its start repeated from the piece before (0 for the first piece). */
  readonly overlap: number;
  /** Characters at its end the next piece repeats (0 for the last piece). */
  readonly carried: number;
}

export type ScreenItem =
  /** A line of text as it was last shown before it left the screen. */
  | {
      readonly kind: "line";
      readonly text: string;
      readonly time: number;
      readonly ref: number;
      readonly screen: "normal" | "alternate";
      readonly why: LineEnd;
      /** Only for a line given in pieces (longer than `maxLine`). */
      readonly piece?: LinePiece;
    }
  /** A window title set by OSC 0 or OSC 2. */
  | { readonly kind: "title"; readonly title: string; readonly time: number; readonly ref: number }
  /** With `newlines`: the row the cursor left at a line feed (the echoed line, on a shell). */
  | {
      readonly kind: "newline";
      readonly text: string;
      readonly time: number;
      readonly ref: number;
      readonly screen: "normal" | "alternate";
    }
  /** Keystrokes, in their place among the output, with the screen active when they came. */
  | {
      readonly kind: "input";
      readonly data: Uint8Array;
      readonly time: number;
      readonly ref: number;
      readonly screen: "normal" | "alternate";
    };

export interface ScreenOptions {
  /**
   * Give a `newline` item at every line feed (`true`: for commands read from the screen), or
   * (`"after-enter"`: for typed commands, whose echo is the line the cursor leaves next) only
   * at the first line feed on the normal screen after keystrokes with a CR or LF in them. Each
   * costs the text of a row, as much as the line itself.
   */
  newlines?: boolean | "after-enter";
  /**
   * Longest line given whole (default 16,384 characters); a longer one is given in pieces of
   * this many characters that overlap (`LinePiece`), so memory stays bounded by the screen.
   */
  maxLine?: number;
  /** Longest match a line's pieces are sure to hold whole (default 4,096; under `maxLine`). */
  maxMatch?: number;
}

/** A logical line on its way out: the text not yet given, and how many pieces went before. */
interface Held {
  text: string;
  pieces: number;
}

const held = (): Held => ({ text: "", pieces: 0 });

/** Without the spaces at its end (a program may write them; nobody sees them). */
function trimSpaces(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x20) end--;
  return text.slice(0, end);
}

/**
 * What a line item adds to the text of the session: its text without what it repeats from the
 * piece before, and whether the line ends with it.
 */
export function newText(item: { text: string; piece?: LinePiece }): {
  text: string;
  ends: boolean;
} {
  const { piece } = item;
  if (piece === undefined) return { text: item.text, ends: true };
  return { text: item.text.slice(piece.overlap), ends: piece.carried === 0 };
}

/** xterm's default size, used when the recording names none. */
const DEFAULT_COLS = 80;
const DEFAULT_ROWS = 24;
/** Bytes handed to the emulator before waiting for it to parse them. */
const WINDOW = 256 * 1024;
/** Scrollback lent to the emulator only while it resizes, to catch the rows a resize pushes out. */
const RESIZE_SCROLLBACK = 10_000;

/**
 * The one place that reaches into xterm's internals, for what its API does not give: the scroll
 * region of the active buffer and the line scroll that drops a row. Checked when a Screen is made,
 * so an xterm that changed shape fails loudly instead of losing lines.
 */
interface Internals {
  buffer: { scrollTop: number; scrollBottom: number };
  scroll: (eraseAttr: unknown, isWrapped?: boolean) => void;
}
function internals(term: XtermTerminal): Internals {
  const core = (term as unknown as { _core?: { _bufferService?: Internals } })._core;
  const service = core?._bufferService;
  if (
    service === undefined ||
    typeof service.scroll !== "function" ||
    typeof service.buffer?.scrollTop !== "number" ||
    typeof service.buffer?.scrollBottom !== "number"
  ) {
    // A programming error (a dependency upgrade), not a user's: no TrailsealError code fits.
    throw new Error("the terminal emulator (@xterm/headless) does not have the shape expected");
  }
  return service;
}

/** One emulator for one session; feed every event in order, then `end()`. */
export class Screen {
  private readonly term: XtermTerminal;
  private readonly service: Internals;
  /** xterm's `buffer` getter checks the proposed-API flag on every call: taken once. */
  private readonly buffers: IBufferNamespace;
  private readonly maxLine: number;
  /** Characters each piece of a long line repeats from the one before. */
  private readonly overlap: number;
  /** The (time, ref) of each event written and not yet parsed; the head is being parsed. */
  private readonly queue: { time: number; ref: number }[] = [];
  private head = 0;
  private last = { time: 0, ref: -1 };
  private unparsed = 0;
  private drained: Promise<void> | null = null;
  private items: ScreenItem[] = [];
  /** The start of a logical line whose rows are leaving the top of the screen one by one. */
  private pending = held();
  /** With `newlines: "after-enter"`: an Enter was typed and its line feed has not come. */
  private entered = false;
  private readonly newlines: boolean | "after-enter";

  constructor(metadata: SessionMetadata, options: ScreenOptions = {}) {
    this.term = new xterm.Terminal({
      cols: metadata.cols ?? DEFAULT_COLS,
      rows: metadata.rows ?? DEFAULT_ROWS,
      scrollback: 0,
      allowProposedApi: true,
    });
    this.maxLine = options.maxLine ?? 16_384;
    this.overlap = (options.maxMatch ?? 4096) + 1;
    if (!(this.overlap > 1 && this.overlap < this.maxLine))
      throw new TrailsealError("USAGE", "a screen's maxMatch must be from 1 to maxLine - 2");
    this.buffers = this.term.buffer;
    this.service = internals(this.term);
    this.hookScroll(this.service);
    this.hookSequences();
    this.term.onTitleChange((title) => this.items.push({ kind: "title", title, ...this.now() }));
    this.newlines = options.newlines ?? false;
    if (this.newlines !== false) this.term.onLineFeed(() => this.lineFed());
  }

  /**
   * Feeds one event; `ref` is the caller's name for where it is (a record number, an event
   * index) and comes back on every item it completes. Returns the items completed so far, which
   * may belong to earlier events: the emulator runs behind the feed by up to a window of bytes.
   */
  async push(event: SessionEvent, ref: number): Promise<ScreenItem[]> {
    const at = { time: event.time, ref };
    this.queue.push(at);
    const bytes = event.type === "output" ? event.data.byteLength : 0;
    const done = () => this.parsed(at, bytes);
    if (event.type === "output") {
      this.unparsed += event.data.byteLength;
      this.term.write(event.data, done);
    } else if (event.type === "resize") {
      // A resize takes effect between the bytes before it and after it: run it in the parse order.
      this.term.write(new Uint8Array(0), () => {
        this.resize(event.cols, event.rows);
        done();
      });
    } else if (event.type === "input") {
      this.term.write(new Uint8Array(0), () => {
        if (event.data.includes(0x0d) || event.data.includes(0x0a)) this.entered = true;
        this.items.push({ kind: "input", data: event.data, ...at, screen: this.which() });
        done();
      });
    } else {
      this.term.write(new Uint8Array(0), done);
    }
    if (this.unparsed > WINDOW) await this.settle();
    return this.take();
  }

  /** The session ended: everything parsed, then the final screen (the normal one first). */
  async end(): Promise<ScreenItem[]> {
    await this.settle();
    const buffers = this.buffers;
    const last = this.term.rows - 1;
    if (buffers.active.type === "alternate") this.dumpRows(0, last, "end", false, buffers.normal);
    this.dumpRows(0, last, "end");
    this.term.dispose();
    return this.take();
  }

  private take(): ScreenItem[] {
    const out = this.items;
    this.items = [];
    return out;
  }

  private settle(): Promise<void> {
    this.drained ??= new Promise<void>((resolve) => this.term.write("", resolve)).then(() => {
      this.drained = null;
    });
    return this.drained;
  }

  private parsed(at: { time: number; ref: number }, bytes: number): void {
    this.last = at;
    this.unparsed -= bytes;
    this.head++;
    if (this.head > 1024) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The event being parsed now (or the last one parsed, between writes). */
  private now(): { time: number; ref: number } {
    return this.queue[this.head] ?? this.last;
  }

  private which(): "normal" | "alternate" {
    return this.buffers.active.type;
  }

  private row(y: number, b: IBuffer = this.buffers.active): IBufferLine | undefined {
    return b.getLine(b.baseY + y);
  }

  private give(text: string, why: LineEnd, screen: "normal" | "alternate", piece?: LinePiece) {
    const { time, ref } = this.now();
    const item = { kind: "line", text, time, ref, screen, why } as const;
    this.items.push(piece === undefined ? item : { ...item, piece });
  }

  /** Adds text to a line; while it is longer than a piece, gives its first piece. */
  private grow(line: Held, text: string, why: LineEnd, screen = this.which()): void {
    line.text += text;
    while (line.text.length > this.maxLine) {
      const overlap = line.pieces > 0 ? this.overlap : 0;
      const piece = { index: line.pieces++, overlap, carried: this.overlap };
      this.give(line.text.slice(0, this.maxLine), why, screen, piece);
      line.text = line.text.slice(this.maxLine - this.overlap);
    }
  }

  /**
   * Ends a line: gives it (or its last piece) without the spaces at its end. Blank lines are
   * given from the normal screen only, where they are part of the text that scrolled; on an
   * alternate screen they are the empty rows a full-screen program left.
   */
  private close(line: Held, why: LineEnd, screen = this.which()): void {
    const text = trimSpaces(line.text);
    const pieces = line.pieces;
    line.text = "";
    line.pieces = 0;
    if (pieces === 0) {
      if (text !== "" || screen === "normal") this.give(text, why, screen);
      return;
    }
    // Trimmed, the last piece may be shorter than what it repeats: then it is all repeated.
    const overlap = Math.min(this.overlap, text.length);
    this.give(text, why, screen, { index: pieces, overlap, carried: 0 });
  }

  /** The start of a wrapped line that left the top, given alone (its screen is going away). */
  private flushPending(): void {
    if (this.pending.text !== "") this.close(this.pending, "scroll");
  }

  /**
   * A row leaves the top of the screen (or of the scroll region). When the row under it carries
   * on the same logical line (an auto-wrap), the text waits for the rest.
   */
  private leaveTop(line: IBufferLine | undefined, next: IBufferLine | undefined): void {
    const continued = next?.isWrapped === true;
    this.grow(this.pending, line?.translateToString(!continued) ?? "", "scroll");
    if (!continued) this.close(this.pending, "scroll");
  }

  /**
   * Rows first..last (screen rows, inclusive) of a buffer (the active one unless named) as
   * logical lines (auto-wrapped rows joined), without the blank lines at the bottom unless
   * `keepBlank`. From the active screen's top row, the text of a line that began above it (left
   * with `leaveTop`) comes first.
   */
  private dumpRows(
    first: number,
    last: number,
    why: LineEnd,
    keepBlank = false,
    buffer?: IBuffer,
  ): void {
    const b = buffer ?? this.buffers.active;
    // Whole lines first (the screen bounds them), so the blank ones at the bottom can be dropped.
    const lines: Held[] = [];
    let line = held();
    if (first === 0 && buffer === undefined) {
      if (this.row(0, b)?.isWrapped === true) line = this.pending;
      else this.flushPending();
      this.pending = held();
    }
    for (let y = first; y <= last; y++) {
      const continued = y < last && this.row(y + 1, b)?.isWrapped === true;
      line.text += this.row(y, b)?.translateToString(!continued) ?? "";
      if (continued) continue;
      lines.push(line);
      line = held();
    }
    const blank = (l: Held | undefined) =>
      l !== undefined && l.pieces === 0 && l.text.trim() === "";
    if (!keepBlank) while (blank(lines.at(-1))) lines.pop();
    for (const l of lines) {
      this.grow(l, "", why, b.type);
      this.close(l, why, b.type);
    }
  }

  /** Every line scroll (a line feed at the bottom, an index) drops the region's top row first. */
  private hookScroll(service: Internals): void {
    const scroll = service.scroll.bind(service);
    service.scroll = (eraseAttr, isWrapped) => {
      const top = service.buffer.scrollTop;
      if (top === 0) this.leaveTop(this.row(0), this.row(1));
      else this.dumpRows(top, top, "scroll", true);
      scroll(eraseAttr, isWrapped);
    };
  }

  /**
   * The sequences that drop rows without a line scroll, seen before xterm runs them (a handler
   * that returns false lets the built-in one run): ECMA-48 SU, SD, IL, DL, ED; RI (ESC M); RIS
   * (ESC c); leaving the alternate screen (DECRST 47, 1047, 1049).
   */
  private hookSequences(): void {
    const p = this.term.parser;
    const n = (params: (number | number[])[]) => Math.max(1, Number(params[0] ?? 1) || 1);
    const region = () => this.service.buffer;
    const cursor = () => this.buffers.active.cursorY;
    const inRegion = () => cursor() >= region().scrollTop && cursor() <= region().scrollBottom;
    const rows = (a: number, b: number) => {
      if (a <= b) this.dumpRows(a, b, "scroll", true);
    };
    p.registerCsiHandler({ final: "S" }, (params) => {
      const { scrollTop, scrollBottom } = region();
      rows(scrollTop, Math.min(scrollBottom, scrollTop + n(params) - 1));
      return false;
    });
    p.registerCsiHandler({ final: "T" }, (params) => {
      const { scrollTop, scrollBottom } = region();
      if (params.length <= 1) rows(Math.max(scrollTop, scrollBottom - n(params) + 1), scrollBottom);
      return false;
    });
    p.registerCsiHandler({ final: "L" }, (params) => {
      const { scrollBottom } = region();
      if (inRegion()) rows(Math.max(cursor(), scrollBottom - n(params) + 1), scrollBottom);
      return false;
    });
    p.registerCsiHandler({ final: "M" }, (params) => {
      if (inRegion()) rows(cursor(), Math.min(region().scrollBottom, cursor() + n(params) - 1));
      return false;
    });
    p.registerEscHandler({ final: "M" }, () => {
      if (cursor() === region().scrollTop) rows(region().scrollBottom, region().scrollBottom);
      return false;
    });
    const erase = (params: (number | number[])[]) => this.eraseDisplay(Number(params[0] ?? 0));
    p.registerCsiHandler({ final: "J" }, erase);
    p.registerCsiHandler({ prefix: "?", final: "J" }, erase);
    p.registerEscHandler({ final: "c" }, () => {
      this.dumpRows(0, this.term.rows - 1, "reset");
      return false;
    });
    // Switching screens: a wrapped line cut at the top belongs to the screen being left.
    p.registerCsiHandler({ prefix: "?", final: "h" }, (params) => {
      if (params.some((m) => m === 47 || m === 1047 || m === 1049)) this.flushPending();
      return false;
    });
    p.registerCsiHandler({ prefix: "?", final: "l" }, (params) => {
      const alt = params.some((m) => m === 47 || m === 1047 || m === 1049);
      if (alt && this.which() === "alternate") this.dumpRows(0, this.term.rows - 1, "alternate");
      return false;
    });
  }

  /** ED (ECMA-48 8.3.39): the rows it blanks whole are final. */
  private eraseDisplay(mode: number): boolean {
    const b = this.buffers.active;
    const last = this.term.rows - 1;
    if (mode === 2) this.dumpRows(0, last, "clear");
    else if (mode === 0) this.dumpRows(b.cursorX === 0 ? b.cursorY : b.cursorY + 1, last, "clear");
    else if (mode === 1)
      this.dumpRows(0, b.cursorX >= this.term.cols - 1 ? b.cursorY : b.cursorY - 1, "clear");
    return false;
  }

  /**
   * A resize may push rows off the top (fewer rows, or narrower rows that rewrap): xterm moves
   * them to the scrollback, lent for the moment, from where they are taken before it is removed.
   */
  private resize(cols: number, rows: number): void {
    if (cols === this.term.cols && rows === this.term.rows) return;
    this.term.options.scrollback = RESIZE_SCROLLBACK;
    this.term.resize(cols, rows);
    const b = this.buffers.active;
    for (let y = 0; y < b.baseY; y++) {
      const continued = b.getLine(y + 1)?.isWrapped === true;
      this.grow(this.pending, b.getLine(y)?.translateToString(!continued) ?? "", "resize");
      if (!continued) this.close(this.pending, "resize");
    }
    this.term.options.scrollback = 0;
  }

  private lineFed(): void {
    const b = this.buffers.active;
    if (this.newlines === "after-enter") {
      if (!this.entered || b.type !== "normal") return;
      this.entered = false;
    }
    let y = b.baseY + b.cursorY - 1;
    if (y < b.baseY) return;
    let text = b.getLine(y)?.translateToString(true) ?? "";
    while (y > b.baseY && b.getLine(y)?.isWrapped === true) {
      y--;
      text = (b.getLine(y)?.translateToString(false) ?? "") + text;
    }
    this.items.push({ kind: "newline", text, ...this.now(), screen: b.type });
  }
}

/** Every line the screen showed, in the order they became final; then the final screen. */
export async function* screenItems(
  metadata: SessionMetadata,
  events: AsyncIterable<SessionEvent> | Iterable<SessionEvent>,
  options: ScreenOptions = {},
): AsyncGenerator<ScreenItem> {
  const screen = new Screen(metadata, options);
  let index = 0;
  for await (const event of events) yield* await screen.push(event, index++);
  yield* await screen.end();
}
