/**
 * A Name (RFC 5280 §4.1.2.4) as one line of text, RDNs in encoded order joined by ", " and
 * multi-valued RDNs by " + ", attribute types by their short names (RFC 4514 §3), as OpenSSL
 * shows a certificate's subject. For names that come without a certificate (a TSTInfo's tsa);
 * a certificate's own names are shown by OpenSSL itself (./cert.ts).
 */
import { utf8 } from "../bytes.js";
import { DerReader, TAG } from "./der.js";

const SHORT_NAMES: Readonly<Record<string, string>> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "title",
  "2.5.4.42": "GN",
  "2.5.4.97": "organizationIdentifier",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "emailAddress",
};

/** BMPString is UTF-16BE (X.680 §41); the other string types we meet are ASCII or UTF-8. */
function text(tag: number, bytes: Uint8Array): string {
  if (tag === 0x1e) return Buffer.from(bytes).swap16().toString("utf16le");
  if (tag === 0x14) return Buffer.from(bytes).toString("latin1");
  return utf8.decode(bytes);
}

/** The Name as text; `<unreadable name>` when the DER is not a Name. */
export function nameToString(der: Uint8Array): string {
  try {
    const r: DerReader = new DerReader(der, "Name", "DER_INVALID");
    const rdns = r.children(r.expect(r.whole(), TAG.SEQUENCE, "Name")).map((rdn) =>
      r
        .children(r.expect(rdn, TAG.SET, "RelativeDistinguishedName"))
        .map((atv) => {
          const [type, value] = r.children(r.expect(atv, TAG.SEQUENCE, "AttributeTypeAndValue"));
          const oid = r.oid(type, "attribute type");
          if (value === undefined) r.fail("attribute value missing");
          return `${SHORT_NAMES[oid] ?? oid}=${text(value.tag, r.value(value))}`;
        })
        .join(" + "),
    );
    return rdns.join(", ");
  } catch {
    return "<unreadable name>";
  }
}
