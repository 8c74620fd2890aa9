/**
 * The DER encoder's one TLV builder (pkix/der.ts `tlv`): the length in its shortest form at every
 * boundary (X.690 §8.1.3, §10.1), the parts joined in order, and what DerReader reads back.
 * openssl's asn1parse agrees with the long forms.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { toHex } from "../src/bytes.js";
import { DerReader, TAG, tlv } from "../src/pkix/der.js";

const dir = mkdtempSync(join(tmpdir(), "trailseal-der-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const header = (encoded: Uint8Array, n: number) => toHex(encoded.subarray(0, encoded.length - n));

describe("tlv", () => {
  const cases: [number, string][] = [
    [0, "0400"],
    [0x7f, "047f"],
    [0x80, "048180"],
    [0xff, "0481ff"],
    [0x100, "04820100"],
    [0xffff, "0482ffff"],
    [0x10000, "0483010000"],
    [0x1000000, "048401000000"],
  ];
  for (const [n, expected] of cases) {
    it(`a ${n}-byte body: header ${expected}, and DerReader reads the body back`, () => {
      const body = new Uint8Array(n).map((_, i) => i % 251);
      // In three parts, to check they are joined in order.
      const a = Math.floor(n / 3);
      const encoded = tlv(
        TAG.OCTET_STRING,
        body.subarray(0, a),
        body.subarray(a, 2 * a),
        body.subarray(2 * a),
      );
      expect(encoded.length).toBe(expected.length / 2 + n);
      expect(header(encoded, n)).toBe(expected);
      const r = new DerReader(encoded, "test", "RECORD_INVALID");
      expect(Buffer.from(r.value(r.whole())).equals(Buffer.from(body))).toBe(true);
    });
  }

  it("a nested SEQUENCE with a long-form length parses in openssl asn1parse", () => {
    const inner = tlv(TAG.OCTET_STRING, new Uint8Array(300).fill(7));
    const path = join(dir, "nested.der");
    writeFileSync(path, tlv(TAG.SEQUENCE, inner, tlv(TAG.OCTET_STRING)));
    const out = execFileSync("openssl", ["asn1parse", "-inform", "DER", "-in", path], {
      encoding: "utf8",
    });
    expect(out.split("\n").map((l) => l.replace(/\s+/g, " ").trim())).toEqual([
      "0:d=0 hl=4 l= 306 cons: SEQUENCE",
      "4:d=1 hl=4 l= 300 prim: OCTET STRING [HEX DUMP]:" + "07".repeat(300),
      "308:d=1 hl=2 l= 0 prim: OCTET STRING",
      "",
    ]);
  });
});
