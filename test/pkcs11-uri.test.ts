/**
 * RFC 7512 PKCS#11 URIs: the RFC's own examples (§3.3) parse to the attributes they state,
 * malformed ones fail naming the attribute, and what formatPkcs11Uri writes parses back.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { TrailsealError } from "../src/errors.js";
import { formatPkcs11Uri, isPkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from "../src/pkcs11/uri.js";

const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, "hex"));

/** RFC 7512 §3.3, each example joined from its wrapped lines as the RFC says to read them. */
const RFC_EXAMPLES: [string, Pkcs11Uri][] = [
  ["pkcs11:", { unknown: [] }],
  ["pkcs11:object=my-pubkey;type=public", { object: "my-pubkey", type: "public", unknown: [] }],
  [
    "pkcs11:object=my-key;type=private?pin-source=file:/etc/token",
    { object: "my-key", type: "private", pinSource: "file:/etc/token", unknown: [] },
  ],
  [
    "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin",
    {
      token: "The Software PKCS#11 Softtoken",
      manufacturer: "Snake Oil, Inc.",
      model: "1.0",
      object: "my-certificate",
      type: "cert",
      id: bytes("69953e5cf4bdec91"),
      serial: "",
      pinSource: "file:/etc/token_pin",
      unknown: [],
    },
  ],
  [
    "pkcs11:object=my-sign-key;type=private?module-name=mypkcs11",
    { object: "my-sign-key", type: "private", moduleName: "mypkcs11", unknown: [] },
  ],
  [
    "pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1",
    { object: "my-sign-key", type: "private", modulePath: "/mnt/libmypkcs11.so.1", unknown: [] },
  ],
  [
    "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin",
    {
      token: "Software PKCS#11 softtoken",
      manufacturer: "Snake Oil, Inc.",
      pinValue: "the-pin",
      unknown: [],
    },
  ],
  ["pkcs11:slot-description=Sun%20Metaslot", { slotDescription: "Sun Metaslot", unknown: [] }],
  [
    "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23",
    {
      libraryManufacturer: "Snake Oil, Inc.",
      libraryDescription: "Soft Token Library",
      libraryVersion: { major: 1, minor: 23 },
      unknown: [],
    },
  ],
  [
    "pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;id=%01%02%03%Ba%dd%Ca%fe%04%05%06",
    {
      token: "My token% created by Joe",
      libraryVersion: { major: 3, minor: 0 },
      id: bytes("010203baddcafe040506"),
      unknown: [],
    },
  ],
  [
    "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert",
    {
      token: "A name with a substring %;",
      object: "my-certificate",
      type: "cert",
      unknown: [],
    },
  ],
  [
    "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert",
    {
      token: "Name with a small A with acute: á",
      object: "my-certificate",
      type: "cert",
      unknown: [],
    },
  ],
  [
    "pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b",
    {
      token: "my-token",
      object: "my-certificate",
      type: "cert",
      pinSource: "file:/etc/token_pin",
      unknown: [
        { name: "vendor-aaa", value: "value-a", part: "path" },
        { name: "vendor-bbb", value: "value-b", part: "query" },
      ],
    },
  ],
];

describe("parsePkcs11Uri", () => {
  it.each(RFC_EXAMPLES)("RFC 7512 §3.3: %s", (uri, expected) => {
    expect(parsePkcs11Uri(uri)).toEqual(expected);
    expect(isPkcs11Uri(uri)).toBe(true);
  });

  it("reads slot-id as the decimal CK_SLOT_ID and the scheme in any case", () => {
    expect(parsePkcs11Uri("PKCS11:slot-id=1877800377;slot-manufacturer=SoftHSM%20project")).toEqual(
      { slotId: 1877800377n, slotManufacturer: "SoftHSM project", unknown: [] },
    );
  });

  const ERRORS: [string, string][] = [
    ["pkcs11x:token=a", "'pkcs11x:token=a' does not start with pkcs11:"],
    [
      "pkcs11:token=a%2",
      "pkcs11 uri pkcs11:token=a%2: attribute token: '%2' is not a percent-encoded byte (%XX)",
    ],
    [
      "pkcs11:token=a b",
      "pkcs11 uri pkcs11:token=a b: attribute token: the character ' ' must be percent-encoded (%20)",
    ],
    [
      "pkcs11:object=ä",
      "pkcs11 uri pkcs11:object=ä: attribute object: the character 'ä' must be percent-encoded (%C3%A4)",
    ],
    [
      "pkcs11:object=a/b",
      "pkcs11 uri pkcs11:object=a/b: attribute object: the character '/' must be percent-encoded (%2F)",
    ],
    ["pkcs11:token=a;token=b", "pkcs11 uri pkcs11:token=a;token=b: attribute token appears twice"],
    [
      "pkcs11:type=secret",
      "pkcs11 uri pkcs11:type=secret: attribute type: 'secret' is not one of public, private, cert, secret-key, data",
    ],
    [
      "pkcs11:slot-id=0x1",
      "pkcs11 uri pkcs11:slot-id=0x1: attribute slot-id: '0x1' is not a decimal number",
    ],
    [
      "pkcs11:library-version=1.2.3",
      "pkcs11 uri pkcs11:library-version=1.2.3: attribute library-version: '1.2.3' is not M or M.N",
    ],
    ["pkcs11:token", "pkcs11 uri pkcs11:token: path attribute 'token' is not name=value"],
    [
      "pkcs11:token=a;;object=b",
      "pkcs11 uri pkcs11:token=a;;object=b: empty path attribute (a doubled ';')",
    ],
    [
      "pkcs11:object=%FF",
      "pkcs11 uri pkcs11:object=%FF: attribute object: its value is not UTF-8 text",
    ],
    [
      "pkcs11:token=a?module-path=/x&module-path=/y",
      "pkcs11 uri pkcs11:token=a?…: attribute module-path appears twice",
    ],
    [
      "pkcs11:token=a?pin-source=file:/x&pin-value=1",
      "pin-source and pin-value are both given; use one",
    ],
    [
      "pkcs11:token=a?pin-value=my secret",
      "pkcs11 uri pkcs11:token=a?…: attribute pin-value: a character in it must be percent-encoded",
    ],
    [
      "pkcs11:token=a?pin-value=12%G4",
      "pkcs11 uri pkcs11:token=a?…: attribute pin-value: a '%' is not a percent-encoded byte (%XX)",
    ],
  ];
  it.each(ERRORS)("refuses %s naming the attribute", (uri, message) => {
    let error: unknown;
    try {
      parsePkcs11Uri(uri);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TrailsealError);
    expect([(error as TrailsealError).code, (error as TrailsealError).message]).toEqual([
      "PKCS11_URI_INVALID",
      message,
    ]);
  });
});

describe("formatPkcs11Uri", () => {
  it("writes the URI keys list prints, percent-encoding what RFC 7512 §2.3 wants encoded", () => {
    expect(
      formatPkcs11Uri({
        token: "alice",
        serial: "0123abcd",
        object: "audit key; 2026/1",
        id: bytes("0a0b"),
        type: "private",
      }),
    ).toBe(
      "pkcs11:token=alice;serial=0123abcd;object=audit%20key%3B%202026%2F1;id=%0A%0B;type=private",
    );
  });

  it("parses back to what it was given, for any label and id", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.uint8Array({ minLength: 1 }), (label, id) => {
        const uri = parsePkcs11Uri(
          formatPkcs11Uri({ token: label, object: label, id, type: "cert" }),
        );
        expect(uri).toEqual({ token: label, object: label, id, type: "cert", unknown: [] });
      }),
    );
  });
});
