/**
 * Content-policy patterns: SPS writes them in PCRE syntax and searches them as substrings ("the
 * conf pattern will match configure"). Patterns come from users and the searched text from
 * whoever controlled the session, so matching must never backtrack: patterns are translated
 * from PCRE to RE2 syntax and run by re2js (a port of RE2, linear in the text's length).
 *
 * What PCRE has and a linear-time engine cannot run is refused, naming the construct and its
 * offset, rather than matched as something else: backreferences (`\1`, `\g{1}`, `\k<n>`,
 * `(?P=n)`), lookahead and lookbehind (`(?=`, `(?!`, `(?<=`, `(?<!`), atomic groups (`(?>`),
 * possessive quantifiers (`*+`, `++`, `?+`, `{n}+`), recursion and subroutine calls (`(?R)`,
 * `(?1)`, `(?&n)`, `(?P>n)`, `\g<n>`), conditionals (`(?(`), `\K`, branch reset (`(?|`),
 * callouts (`(?C`), backtracking verbs and leading options (`(*…)`), `\G`, and the options
 * `x`, `xx`, `n`, `J`, `^`. Also refused, because RE2 reads them differently: `\h \H \v \V \R
 * \X \N` and the `{,n}` quantifier (literal text before PCRE2 10.43, `{0,n}` since).
 *
 * Translated to keep PCRE's meaning: `$` without the `m` option and `\Z` (end of text or before
 * a final newline: the match then includes that newline), `\s` (PCRE counts the vertical tab),
 * `\e`, `\cX`, `\o{…}`, `\b` inside a class (backspace), `\'`, `(?'name'…)`, comments `(?#…)`,
 * `\Q…\E`. Not translated: `\S` inside a class still takes the vertical tab as non-space.
 */
import { RE2JS } from "re2js";
import { TrailsealError } from "../errors.js";
import type { LinePiece } from "./screen.js";

/** Where a pattern matched: UTF-16 offset and length in the searched text. */
export interface PatternMatch {
  index: number;
  length: number;
}

export interface Pattern {
  /** The pattern as the policy wrote it. */
  readonly source: string;
  /**
   * The first (leftmost) match in `text` that starts at `from` or after (default 0), or null;
   * the characters before `from` are context (`^` does not match at `from` > 0, `\b` sees the
   * character before). Linear in `text.length`.
   */
  find(text: string, from?: number): PatternMatch | null;
}

/** The constructs refused after `(?`, longest first, with their names. */
const GROUP_REFUSALS: readonly (readonly [string, string])[] = [
  ["(?<=", "a lookbehind assertion"],
  ["(?<!", "a negative lookbehind assertion"],
  ["(?P=", "a named backreference"],
  ["(?P>", "a subroutine call"],
  ["(?=", "a lookahead assertion"],
  ["(?!", "a negative lookahead assertion"],
  ["(?>", "an atomic group"],
  ["(?|", "a branch reset group"],
  ["(?(", "a conditional group"],
  ["(?R", "recursion"],
  ["(?&", "a subroutine call"],
  ["(?C", "a callout"],
  ["(*", "a backtracking verb or leading option"],
];

/** Escapes refused outright, with their names. */
const ESCAPE_REFUSALS: Readonly<Record<string, string>> = {
  K: "\\K (reset match start)",
  G: "\\G (first matching position)",
  R: "\\R (any newline sequence)",
  X: "\\X (extended grapheme cluster)",
  N: "\\N (not a newline)",
  h: "\\h (horizontal space; write [ \\t])",
  H: "\\H (not horizontal space)",
  v: "\\v (vertical space; write [\\n\\v\\f\\r])",
  V: "\\V (not vertical space)",
  g: "\\g (a backreference or subroutine call)",
  k: "\\k (a named backreference)",
};

/** PCRE's \s: space, \t, \n, \v, \f, \r (RE2's \s lacks the vertical tab). */
const SPACE = "\\t\\n\\v\\f\\r ";

/** What the walk over a pattern found: its RE2 form and the offsets of unescaped quotes. */
export interface PatternScan {
  re2: string;
  quotes: number[];
}

class Translator {
  private i = 0;
  private out = "";
  private inClass = false;
  private classStart = 0;
  private multiline = false;
  private readonly groups: boolean[] = [];
  readonly quotes: number[] = [];

  constructor(private readonly source: string) {}

  private refuse(what: string, at: number): never {
    throw new TrailsealError(
      "PATTERN_UNSUPPORTED",
      `pattern ${JSON.stringify(this.source)}: ${what} at offset ${at} is not supported (no linear-time engine can run it)`,
      { offset: at },
    );
  }

  run(): string {
    const s = this.source;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === "\\") this.escape();
      else if (this.inClass) this.classChar(c);
      else this.plainChar(c);
    }
    return this.out;
  }

  private plainChar(c: string): void {
    const at = this.i;
    switch (c) {
      case "[":
        this.inClass = true;
        this.out += "[";
        this.i++;
        this.classStart = this.i;
        if (this.source[this.i] === "^") this.take(1);
        if (this.source[this.i] === "]") this.take(1); // a leading ] is literal
        return;
      case "(":
        this.group();
        return;
      case ")":
        this.multiline = this.groups.pop() ?? this.multiline;
        this.take(1);
        return;
      case "$":
        // PCRE's $ without the m option: end of text or before a final newline.
        this.out += this.multiline ? "$" : "(?:\\n?\\z)";
        this.i++;
        return;
      case "{":
        this.brace(at);
        return;
      case "*":
      case "+":
      case "?":
        this.take(1);
        this.quantifierSuffix(at);
        return;
      case "'":
        this.quotes.push(at);
        this.take(1);
        return;
      default:
        this.take(1);
    }
  }

  private classChar(c: string): void {
    if (c === "]" && this.i > this.classStart) {
      this.inClass = false;
    } else if (c === "[" && this.source[this.i + 1] === ":") {
      const end = this.source.indexOf(":]", this.i + 2);
      if (end > 0) {
        this.take(end + 2 - this.i); // a POSIX class, [:alpha:]
        return;
      }
    } else if (c === "'") {
      this.quotes.push(this.i);
    }
    this.take(1);
  }

  private take(n: number): void {
    this.out += this.source.slice(this.i, this.i + n);
    this.i += n;
  }

  /** After a quantifier: `?` makes it lazy (supported), `+` possessive (refused). */
  private quantifierSuffix(start: number): void {
    const next = this.source[this.i];
    if (next === "+") this.refuse("a possessive quantifier", start);
    if (next === "?") this.take(1);
  }

  private brace(at: number): void {
    const m = /^\{(\d*)(,?)(\d*)\}/.exec(this.source.slice(at));
    if (m === null || (m[1] === "" && m[3] === "")) {
      this.out += "\\{"; // PCRE reads a brace that is no quantifier as text
      this.i++;
      return;
    }
    if (m[1] === "") this.refuse("the quantifier {,n} (write {0,n})", at);
    this.take(m[0].length);
    this.quantifierSuffix(at);
  }

  private group(): void {
    const s = this.source;
    const at = this.i;
    for (const [start, what] of GROUP_REFUSALS) if (s.startsWith(start, at)) this.refuse(what, at);
    if (/^\(\?[+-]?\d/.test(s.slice(at, at + 4))) this.refuse("a subroutine call", at);
    if (s.startsWith("(?#", at)) {
      const end = s.indexOf(")", at);
      this.i = end < 0 ? s.length : end + 1; // a comment: nothing to match
      return;
    }
    if (s.startsWith("(?'", at)) {
      const end = s.indexOf("'", at + 3);
      if (end < 0) this.refuse("an unterminated group name", at);
      this.out += `(?P<${s.slice(at + 3, end)}>`;
      this.i = end + 1;
      this.groups.push(this.multiline);
      return;
    }
    if (!s.startsWith("(?", at) || /^\(\?P?</.test(s.slice(at, at + 4))) {
      this.groups.push(this.multiline);
      this.take(s.startsWith("(?P<", at) ? 4 : s.startsWith("(?<", at) ? 3 : 1);
      return;
    }
    this.options(at);
  }

  /** `(?flags)` for the rest of the group, or `(?flags:…)`: RE2 has i, m, s and U. */
  private options(at: number): void {
    const m = /^\(\?([A-Za-z^]*)(?:-([A-Za-z]*))?([:)])/.exec(this.source.slice(at));
    if (m === null) return this.take(2); // leave the error to the engine
    const on = m[1] ?? "";
    const off = m[2] ?? "";
    const bad = /[^imsU]/.exec(on + off);
    if (bad !== null) this.refuse(`the option '${bad[0]}'`, at);
    const multiline = on.includes("m") ? true : off.includes("m") ? false : this.multiline;
    if (m[3] === ":") {
      this.groups.push(this.multiline);
    }
    this.multiline = multiline;
    this.take(m[0].length);
  }

  private escape(): void {
    const s = this.source;
    const at = this.i;
    const c = s[at + 1];
    if (c === undefined) return this.take(1); // a trailing backslash: the engine refuses it
    if (c === "Q") return this.quoted();
    if (/[0-9]/.test(c) && (this.inClass || c === "0")) return this.octal();
    if (/[1-9]/.test(c)) this.refuse(`a backreference (\\${c})`, at);
    const refusal = ESCAPE_REFUSALS[c];
    if (refusal !== undefined) this.refuse(refusal, at);
    this.i += 2;
    this.out += this.translatedEscape(c, at);
  }

  private translatedEscape(c: string, at: number): string {
    switch (c) {
      case "E":
        return ""; // \E without \Q: PCRE ignores it
      case "'":
        return "'";
      case "e":
        return "\\x1b";
      case "s":
        return this.inClass ? SPACE : `[${SPACE}]`;
      case "S":
        return this.inClass ? "\\S" : `[^${SPACE}]`;
      case "Z":
        if (this.inClass) this.refuse("\\Z in a character class", at);
        return "(?:\\n?\\z)";
      case "b":
        return this.inClass ? "\\x08" : "\\b";
      case "c": {
        const letter = this.source[this.i];
        if (letter === undefined) this.refuse("\\c at the end", at);
        this.i++;
        return hexEscape(letter.toUpperCase().charCodeAt(0) ^ 0x40);
      }
      case "o": {
        const m = /^\{([0-7]+)\}/.exec(this.source.slice(this.i));
        if (m === null) this.refuse("\\o without {octal digits}", at);
        this.i += m[0].length;
        return hexEscape(parseInt(m[1]!, 8));
      }
      default:
        return `\\${c}`;
    }
  }

  /** An octal escape: `\0` and up to two more digits, or up to three digits in a class. */
  private octal(): void {
    const m = /^[0-7]{1,3}/.exec(this.source.slice(this.i + 1));
    if (m === null) return this.take(2); // \8 or \9 in a class: the engine refuses it
    this.i += 1 + m[0].length;
    this.out += hexEscape(parseInt(m[0], 8));
  }

  /** `\Q…\E`: every character literal. */
  private quoted(): void {
    const s = this.source;
    const start = this.i + 2;
    const end = s.indexOf("\\E", start);
    const stop = end < 0 ? s.length : end;
    for (let j = start; j < stop; j++) {
      const ch = s[j]!;
      if (ch === "'" && s[j - 1] !== "\\") this.quotes.push(j);
      this.out += /[\\^$.|?*+()[\]{}-]/.test(ch) ? `\\${ch}` : ch;
    }
    this.i = end < 0 ? s.length : end + 2;
  }
}

function hexEscape(code: number): string {
  return `\\x{${code.toString(16)}}`;
}

/**
 * Walks a PCRE pattern: its RE2 form and where it has a `'` without the backslash SPS requires.
 * Throws `PATTERN_UNSUPPORTED` (with `details.offset`) for what no linear-time engine runs.
 */
export function scanPattern(source: string): PatternScan {
  const t = new Translator(source);
  const re2 = t.run();
  return { re2, quotes: t.quotes };
}

/**
 * Compiles an SPS content-policy pattern (PCRE syntax) for substring search in linear time.
 * Throws `PATTERN_UNSUPPORTED` for a construct only a backtracking engine runs and
 * `PATTERN_INVALID` for a pattern that is not well formed; both name the pattern and the offset.
 *
 * @example
 * compilePattern("rm\\s+-rf").find("$ sudo rm  -rf /") // { index: 7, length: 7 }
 */
export function compilePattern(source: string): Pattern {
  const { re2 } = scanPattern(source);
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(re2);
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).replace(/^error parsing regexp: /, "");
    const fragment = /`([^`]*)`/.exec(why)?.[1];
    const at = fragment === undefined || fragment === "" ? -1 : source.indexOf(fragment);
    throw new TrailsealError(
      "PATTERN_INVALID",
      `pattern ${JSON.stringify(source)}: ${why}${at >= 0 ? ` at offset ${at}` : ""}`,
      at >= 0 ? { cause: e, offset: at } : { cause: e },
    );
  }
  return {
    source,
    find(text: string, from = 0): PatternMatch | null {
      const m = compiled.matcher(text);
      if (!m.find(from)) return null;
      return { index: m.start(), length: m.end() - m.start() };
    },
  };
}

/** A hit of a list of expressions: which one found (its index in the list) and where. */
export interface ExpressionHit extends PatternMatch {
  pattern: number;
}

/**
 * The first match of a pattern in a text, or in one piece of a long line (scan/screen.ts): a
 * match that piece may count. After the first piece, the piece's first character is context
 * only (so `^` and `\b` read as in the whole line; a match there lies in the piece before).
 * Before the last, a match that ends at the piece's end and starts in the part the next piece
 * repeats is left to the next piece, which sees what follows it (`$`, `\b`, a longer match).
 * So every match up to `maxMatch` characters is found in exactly one piece, and a longer one
 * only when it lies within one (it may then be cut at the piece's end).
 */
export function findIn(pattern: Pattern, text: string, piece?: LinePiece): PatternMatch | null {
  if (piece === undefined) return pattern.find(text);
  const m = pattern.find(text, piece.index > 0 && text.length > 0 ? 1 : 0);
  if (m === null || piece.carried === 0) return m;
  const repeated = m.index > text.length - piece.carried;
  return repeated && m.index + m.length === text.length ? null : m;
}

/**
 * SPS's rule for a content-policy event on one text: the `match` expressions are tried in
 * order and the first that finds wins; there is no hit when an `ignore` expression also finds
 * in the same text (for a piece of a long line: in the same piece, see `findIn`).
 *
 * @example
 * matchExpressions([compilePattern("cmd")], [compilePattern("cmd\\.exe")], "cmd.exe") // null
 */
export function matchExpressions(
  match: readonly Pattern[],
  ignore: readonly Pattern[],
  text: string,
  piece?: LinePiece,
): ExpressionHit | null {
  for (const [i, pattern] of match.entries()) {
    const found = findIn(pattern, text, piece);
    if (found === null) continue;
    if (ignore.some((p) => findIn(p, text, piece) !== null)) return null;
    return { pattern: i, ...found };
  }
  return null;
}
