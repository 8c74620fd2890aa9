/** scan/cards.ts: Luhn, the issuer table, masking, and where numbers are found in text. */
import { describe, expect, it } from "vitest";
import { cardIssuer, findCards, luhnValid, maskCard } from "../src/scan/cards.js";

/** Test numbers the schemes publish (valid by Luhn), and their issuer. */
const VALID: [string, string][] = [
  ["4111111111111111", "Visa"],
  ["4012888888881881", "Visa"],
  ["4222222222222", "Visa"],
  ["4111111111111111110", "Visa"],
  ["5555555555554444", "Mastercard"],
  ["5105105105105100", "Mastercard"],
  ["2221000000000009", "Mastercard"],
  ["2720999999999996", "Mastercard"],
  ["378282246310005", "American Express"],
  ["371449635398431", "American Express"],
  ["340000000000009", "American Express"],
  ["6011111111111117", "Discover"],
  ["6011000990139424", "Discover"],
  ["6440000000000005", "Discover"],
  ["6500000000000002", "Discover"],
  ["30569309025904", "Diners Club"],
  ["38520000023237", "Diners Club"],
  ["36227206271667", "Diners Club"],
  ["3530111333300000", "JCB"],
  ["3566002020360505", "JCB"],
  ["6200000000000005", "UnionPay"],
  ["6221260000000000", "UnionPay"],
  ["6759649826438453", "Maestro"],
  ["6304000000000000", "Maestro"],
  ["2200000000000004", "Mir"],
];

describe("luhnValid and cardIssuer", () => {
  for (const [n, issuer] of VALID) {
    it(`${n}: Luhn-valid, ${issuer}`, () => {
      expect(luhnValid(n)).toBe(true);
      expect(cardIssuer(n)).toBe(issuer);
    });
  }
  const INVALID: [string, boolean, string | null, string][] = [
    ["4111111111111112", false, "Visa", "last digit off: Luhn fails"],
    ["5555555555554445", false, "Mastercard", "Luhn fails"],
    ["1234567812345670", true, null, "Luhn-valid but prefix 1 belongs to no scheme"],
    ["9999999999999995", true, null, "prefix 9: no scheme"],
    [
      "2720999999999",
      true,
      null,
      "Luhn-valid Mastercard prefix at a length it does not issue (13)",
    ],
    ["411111111111111", false, null, "Visa prefix, 15 digits: no Visa length"],
    ["37828224631000", false, null, "Amex prefix, 14 digits"],
    ["2721000000000004", true, null, "2721 is past the Mastercard 2-series"],
    ["5600000000000003", true, null, "56 is not Mastercard"],
    ["0000000000000000", true, null, "zeros pass Luhn; prefix 0 is no scheme"],
  ];
  for (const [n, luhn, issuer, why] of INVALID) {
    it(`${n}: ${why}`, () => {
      expect(luhnValid(n)).toBe(luhn);
      expect(cardIssuer(n)).toBe(issuer);
    });
  }
  it("the empty string is not valid", () => expect(luhnValid("")).toBe(false));
});

describe("maskCard", () => {
  it("keeps the first 6 and last 4", () => {
    expect(maskCard("4111111111111111")).toBe("411111******1111");
    expect(maskCard("378282246310005")).toBe("378282*****0005");
    expect(maskCard("4222222222222")).toBe("422222***2222");
  });
});

describe("findCards", () => {
  const at = (text: string) =>
    findCards(text).map((c) => [c.masked, c.issuer, text.slice(c.start, c.end)]);
  it("spaces or dashes between groups, a plain run, and Amex 4-6-5 grouping", () => {
    expect(
      at(
        "pay 4111 1111 1111 1111 or 5555-5555-5555-4444, amex 3782 822463 10005; 6011111111111117.",
      ),
    ).toEqual([
      ["411111******1111", "Visa", "4111 1111 1111 1111"],
      ["555555******4444", "Mastercard", "5555-5555-5555-4444"],
      ["378282*****0005", "American Express", "3782 822463 10005"],
      ["601111******1117", "Discover", "6011111111111117"],
    ]);
  });
  it("a Luhn failure, too few or too many digits, and numbers inside words are not cards", () => {
    expect(
      at(
        "4111 1111 1111 1112, 4111 1111 1111, 41111111111111111111111, x4111111111111111, 4111111111111111x",
      ),
    ).toEqual([]);
  });
  it("two separators in a row, or other separators, split the run", () => {
    expect(at("4111  1111 1111 1111 / 4111.1111.1111.1111 / 4111_1111_1111_1111")).toEqual([]);
  });
  it("a card after other digit groups of the same run is found", () => {
    expect(at("ref 12 4111 1111 1111 1111 end")).toEqual([
      ["411111******1111", "Visa", "4111 1111 1111 1111"],
    ]);
  });
  it("two cards in one run are both found", () => {
    expect(at("4111111111111111 5555555555554444")).toEqual([
      ["411111******1111", "Visa", "4111111111111111"],
      ["555555******4444", "Mastercard", "5555555555554444"],
    ]);
  });
  it("a long line of digits finishes quickly", () => {
    const t0 = performance.now();
    expect(findCards("1 ".repeat(50_000) + "1a")).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
