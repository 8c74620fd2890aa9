import { describe, expect, it } from "vitest";
import { isTrailsealError } from "../src/errors.js";
import { compilePattern, matchExpressions, scanPattern } from "../src/scan/pattern.js";

/** The error compilePattern throws for `source`, or null. */
function refusal(source: string): { code: string; offset: number | undefined; message: string } {
  try {
    compilePattern(source);
  } catch (e) {
    if (!isTrailsealError(e)) throw e;
    return { code: e.code, offset: e.details.offset, message: e.message };
  }
  throw new Error(`${source} compiled`);
}

describe("compilePattern: SPS's PCRE patterns, searched as substrings", () => {
  const cases: [pattern: string, text: string, hit: { index: number; length: number } | null][] = [
    // the seed's own example: conf matches conf, configure, reconfigure, arcconf
    ["conf", "conf", { index: 0, length: 4 }],
    ["conf", "configure", { index: 0, length: 4 }],
    ["conf", "reconfigure", { index: 2, length: 4 }],
    ["conf", "arcconf", { index: 3, length: 4 }],
    ["conf", "cnof", null],
    ["rm\\s+-rf", "$ sudo rm  -rf /", { index: 7, length: 7 }],
    ["mmc\\.exe", "mmcXexe", null],
    ["(?i)SHUTDOWN", "sudo shutdown -h now", { index: 5, length: 8 }],
    ["(?i:a)b", "Ab", { index: 0, length: 2 }],
    ["(?i:a)b", "AB", null],
    ["x{2}", "xxx", { index: 0, length: 2 }],
    ["a+?", "aaa", { index: 0, length: 1 }],
    ["x{a}", "x{a}", { index: 0, length: 4 }], // a brace that is no quantifier is text
    ["[]a]", "]", { index: 0, length: 1 }],
    ["[[:digit:]]+", "ab12", { index: 2, length: 2 }],
    ["(?<n>ab)c", "xabc", { index: 1, length: 3 }],
    ["(?P<n>ab)c", "xabc", { index: 1, length: 3 }],
    ["(?'n'ab)c", "xabc", { index: 1, length: 3 }],
    ["a(?#a comment)b", "ab", { index: 0, length: 2 }],
    ["\\Qa.b*\\E", "xa.b*", { index: 1, length: 4 }],
    ["\\Qa.b*\\E", "xaxbb", null],
    ["it\\'s", "it's", { index: 0, length: 4 }],
    // PCRE's $ and \Z: the end, or before a final newline (which the match then includes)
    ["abc$", "abc", { index: 0, length: 3 }],
    ["abc$", "abc\n", { index: 0, length: 4 }],
    ["abc$", "abc\nx", null],
    ["(?m)abc$", "abc\nx", { index: 0, length: 3 }],
    ["a\\Z", "a\n", { index: 0, length: 2 }],
    ["^ls", "ls -l", { index: 0, length: 2 }],
    ["^ls", " ls", null],
    // PCRE's \s has the vertical tab; RE2's has not
    ["a\\sb", "a\vb", { index: 0, length: 3 }],
    ["a[\\s]b", "a\vb", { index: 0, length: 3 }],
    ["a\\Sb", "a\vb", null],
    ["\\e\\[", "x\u001b[1m", { index: 1, length: 2 }],
    ["\\cA", "\u0001", { index: 0, length: 1 }],
    ["[\\101]", "A", { index: 0, length: 1 }],
    ["\\0101", "\u00081", { index: 0, length: 2 }],
    ["\\o{101}", "A", { index: 0, length: 1 }],
    ["[\\b]", "\b", { index: 0, length: 1 }],
    ["\\bcat\\b", "concat cat", { index: 7, length: 3 }],
    // offsets are UTF-16 code units of the text
    ["zz", "😀zz", { index: 2, length: 2 }],
    ["é+x", "zé\u00e9x", { index: 1, length: 3 }],
  ];
  it.each(cases)("%j in %j", (pattern, text, hit) => {
    const p = compilePattern(pattern);
    expect(p.source).toBe(pattern);
    expect(p.find(text)).toEqual(hit);
  });

  it("finds the leftmost match; the same pattern searches many texts", () => {
    const p = compilePattern("c[a-z]t");
    expect(p.find("a cat, a cot")).toEqual({ index: 2, length: 3 });
    expect(p.find("cut")).toEqual({ index: 0, length: 3 });
    expect(p.find("")).toBeNull();
  });
});

describe("compilePattern refuses what only a backtracking engine runs, naming it and its offset", () => {
  const cases: [pattern: string, construct: string, offset: number][] = [
    ["(a)\\1", "a backreference (\\1)", 3],
    ["(a)\\g{1}", "\\g (a backreference or subroutine call)", 3],
    ["(?<n>a)\\k<n>", "\\k (a named backreference)", 7],
    ["(?P<n>a)(?P=n)", "a named backreference", 8],
    ["a(?=b)", "a lookahead assertion", 1],
    ["a(?!b)", "a negative lookahead assertion", 1],
    ["(?<=a)b", "a lookbehind assertion", 0],
    ["(?<!a)b", "a negative lookbehind assertion", 0],
    ["x(?>a+)", "an atomic group", 1],
    ["a*+", "a possessive quantifier", 1],
    ["a++", "a possessive quantifier", 1],
    ["a?+", "a possessive quantifier", 1],
    ["a{2,3}+", "a possessive quantifier", 1],
    ["a(?R)?b", "recursion", 1],
    ["(a)(?1)", "a subroutine call", 3],
    ["(a)(?-1)", "a subroutine call", 3],
    ["(?<n>a)(?&n)", "a subroutine call", 7],
    ["(?P<n>a)(?P>n)", "a subroutine call", 8],
    ["(a)\\g<1>", "\\g (a backreference or subroutine call)", 3],
    ["(?(1)a|b)", "a conditional group", 0],
    ["foo\\Kbar", "\\K (reset match start)", 3],
    ["(?|(a)|(b))", "a branch reset group", 0],
    ["(?C1)a", "a callout", 0],
    ["(*SKIP)a", "a backtracking verb or leading option", 0],
    ["(*UTF)a", "a backtracking verb or leading option", 0],
    ["\\Ga", "\\G (first matching position)", 0],
    ["a\\Rb", "\\R (any newline sequence)", 1],
    ["\\X", "\\X (extended grapheme cluster)", 0],
    ["a\\Nb", "\\N (not a newline)", 1],
    ["a\\hb", "\\h (horizontal space; write [ \\t])", 1],
    ["a\\vb", "\\v (vertical space; write [\\n\\v\\f\\r])", 1],
    ["(?x) a b", "the option 'x'", 0],
    ["a(?n)b", "the option 'n'", 1],
    ["(?J)a", "the option 'J'", 0],
    ["(?^)a", "the option '^'", 0],
    ["x{,2}", "the quantifier {,n} (write {0,n})", 1],
  ];
  it.each(cases)("%j", (pattern, construct, offset) => {
    expect(refusal(pattern)).toEqual({
      code: "PATTERN_UNSUPPORTED",
      offset,
      message: `pattern ${JSON.stringify(pattern)}: ${construct} at offset ${offset} is not supported (no linear-time engine can run it)`,
    });
  });

  it("a construct inside \\Q…\\E or a class is text, not refused", () => {
    expect(compilePattern("\\Q(?=a)\\E").find("x(?=a)")).toEqual({ index: 1, length: 5 });
    expect(compilePattern("[(?=]+").find("x(?=")).toEqual({ index: 1, length: 3 });
  });

  it("a malformed pattern is PATTERN_INVALID, with the offset where the engine names it", () => {
    expect(refusal("a[")).toEqual({
      code: "PATTERN_INVALID",
      offset: 1,
      message: 'pattern "a[": missing closing ]: `[` at offset 1',
    });
    expect(refusal("x{1001}")).toEqual({
      code: "PATTERN_INVALID",
      offset: 1,
      message: 'pattern "x{1001}": invalid repeat count: `{1001}` at offset 1',
    });
    expect(refusal("\\i")).toEqual({
      code: "PATTERN_INVALID",
      offset: 0,
      message: 'pattern "\\\\i": invalid escape sequence: `\\i` at offset 0',
    });
  });
});

describe("linear time: a pathological pattern and line cannot hang a scan", () => {
  it("(a+)+$ on 100,000 'a's and a 'b' finishes, with no match", () => {
    // A backtracking engine (RegExp, PCRE) takes exponential time here; RE2 one pass.
    const line = `${"a".repeat(100_000)}b`;
    expect(compilePattern("(a+)+$").find(line)).toBeNull();
    expect(compilePattern("(a+)+b").find(line)).toEqual({ index: 0, length: 100_001 });
    expect(compilePattern("(a|aa)*c").find(line)).toBeNull();
  });
});

describe("scanPattern: the quotes SPS wants escaped", () => {
  it.each([
    ["it's", [2]],
    ["it\\'s", []],
    ["'a'", [0, 2]],
    ["[']", [1]],
    ["\\Q'\\E", [2]],
    ["\\\\'", [2]], // an escaped backslash, then a bare quote
    ["no quote", []],
  ] as const)("%j", (pattern, quotes) => {
    expect(scanPattern(pattern).quotes).toEqual(quotes);
  });
});

describe("matchExpressions: SPS's order and ignore rules", () => {
  const list = (...sources: string[]) => sources.map((s) => compilePattern(s));

  it("the first expression that finds wins, even when a later one would too", () => {
    expect(matchExpressions(list("rm -rf /", "rm"), [], "sudo rm -rf /")).toEqual({
      pattern: 0,
      index: 5,
      length: 8,
    });
    expect(matchExpressions(list("rm -rf /", "rm"), [], "rm x")).toEqual({
      pattern: 1,
      index: 0,
      length: 2,
    });
  });

  it("no hit when an ignore expression also finds in the text", () => {
    const match = list("cmd");
    const ignore = list("cmd\\.exe", "mmc\\.exe");
    expect(matchExpressions(match, ignore, "start cmd.exe")).toBeNull();
    expect(matchExpressions(match, ignore, "cmd /c dir")).toEqual({
      pattern: 0,
      index: 0,
      length: 3,
    });
    expect(matchExpressions(match, ignore, "ls")).toBeNull();
  });
});
