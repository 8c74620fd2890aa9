/**
 * Payment card numbers in screen text: 13 to 19 digits, in groups that may be separated by one
 * space or one dash, that pass the Luhn check (ISO/IEC 7812-1 Annex B) and start with an issuer
 * identification number (IIN) of a known scheme of a length that scheme issues. A match is only
 * ever given masked (the first 6 and last 4 digits, as PCI DSS 3.4 allows to be shown).
 */

export interface CardMatch {
  /** The digits masked: first 6 and last 4 shown, the rest `*` (no separators). */
  readonly masked: string;
  readonly issuer: string;
  /** How many digits. */
  readonly digits: number;
  /** Where it is in the text: UTF-16 offset of the first digit and of the character after the last. */
  readonly start: number;
  readonly end: number;
}

interface Scheme {
  readonly issuer: string;
  /** IIN prefix ranges, inclusive, as digit strings of one length each. */
  readonly ranges: readonly (readonly [string, string])[];
  readonly lengths: readonly number[];
}

const range = (from: number, to: number): readonly [string, string] => [`${from}`, `${to}`];
const span = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** Published IIN ranges and lengths; the longest matching prefix decides (so 6011 is Discover). */
export const CARD_SCHEMES: readonly Scheme[] = [
  { issuer: "Visa", ranges: [range(4, 4)], lengths: [13, 16, 19] },
  { issuer: "Mastercard", ranges: [range(51, 55), range(2221, 2720)], lengths: [16] },
  { issuer: "American Express", ranges: [range(34, 34), range(37, 37)], lengths: [15] },
  {
    issuer: "Discover",
    ranges: [range(6011, 6011), range(644, 649), range(65, 65)],
    lengths: span(16, 19),
  },
  {
    issuer: "Diners Club",
    ranges: [range(300, 305), range(3095, 3095), range(36, 36), range(38, 39)],
    lengths: span(14, 19),
  },
  { issuer: "JCB", ranges: [range(3528, 3589)], lengths: span(16, 19) },
  { issuer: "UnionPay", ranges: [range(62, 62)], lengths: span(16, 19) },
  {
    issuer: "Maestro",
    ranges: [
      range(5018, 5018),
      range(5020, 5020),
      range(5038, 5038),
      range(5893, 5893),
      range(6304, 6304),
      range(6759, 6759),
      range(6761, 6763),
    ],
    lengths: span(13, 19),
  },
  { issuer: "Mir", ranges: [range(2200, 2204)], lengths: span(16, 19) },
];

/** The Luhn check (ISO/IEC 7812-1 Annex B) over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** The scheme of a number (digits only), by its longest matching IIN prefix and its length. */
export function cardIssuer(digits: string): string | null {
  let best: { issuer: string; prefix: number } | null = null;
  for (const scheme of CARD_SCHEMES) {
    if (!scheme.lengths.includes(digits.length)) continue;
    for (const [from, to] of scheme.ranges) {
      const head = digits.slice(0, from.length);
      if (head >= from && head <= to && (best === null || from.length > best.prefix))
        best = { issuer: scheme.issuer, prefix: from.length };
    }
  }
  return best?.issuer ?? null;
}

export function maskCard(digits: string): string {
  return digits.slice(0, 6) + "*".repeat(Math.max(0, digits.length - 10)) + digits.slice(-4);
}

/** The shortest card number (13 digits, single spaces or dashes between): a line without it has none. */
const MAYBE = /\d(?:[ -]?\d){12}/;

/** Runs of digit groups with single space or dash separators, not inside a longer word. */
const RUN = /(?<![\p{L}\p{N}])\d+(?:[ -]\d+)*(?![\p{L}\p{N}])/gu;

/**
 * The card numbers in a line of text. A run of digit groups holds a card number when some
 * groups of it, whole and consecutive, make 13 to 19 digits that pass Luhn and name an issuer
 * (so "ref 12 4111 1111 1111 1111" finds the card after "12"); the longest such span from the
 * left wins, and the search goes on after it.
 */
export function findCards(text: string): CardMatch[] {
  const found: CardMatch[] = [];
  // Most lines have no 13 digits in a row: a quick test spares them the run search.
  if (!MAYBE.test(text)) return found;
  for (const m of text.matchAll(RUN)) {
    const groups: { start: number; end: number }[] = [];
    for (const g of m[0].matchAll(/\d+/g))
      groups.push({ start: m.index + g.index, end: m.index + g.index + g[0].length });
    for (let i = 0; i < groups.length;) {
      const hit = cardFrom(text, groups, i);
      if (hit === null) i++;
      else {
        found.push(hit.match);
        i = hit.next;
      }
    }
  }
  return found;
}

function cardFrom(
  text: string,
  groups: readonly { start: number; end: number }[],
  first: number,
): { match: CardMatch; next: number } | null {
  let digits = "";
  let best: { match: CardMatch; next: number } | null = null;
  for (let j = first; j < groups.length && digits.length < 19; j++) {
    digits += text.slice(groups[j]!.start, groups[j]!.end);
    if (digits.length < 13 || digits.length > 19 || !luhnValid(digits)) continue;
    const issuer = cardIssuer(digits);
    if (issuer === null) continue;
    const match = {
      masked: maskCard(digits),
      issuer,
      digits: digits.length,
      start: groups[first]!.start,
      end: groups[j]!.end,
    };
    best = { match, next: j + 1 };
  }
  return best;
}
