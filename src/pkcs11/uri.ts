/**
 * PKCS#11 URIs (RFC 7512): `pkcs11:` path attributes separated by `;`, then optionally `?` and
 * query attributes separated by `&`. Values are percent-encoded (RFC 7512 §2.3); `id` is bytes,
 * every other value is UTF-8 text. Attributes the RFC does not define (vendor attributes, §2.3
 * pk11-v-pattr / pk11-v-qattr) parse, and are kept in `unknown` for the caller to refuse: an
 * attribute that is ignored would make the URI match more than its writer meant.
 */
import { TrailsealError } from "../errors.js";

export type ObjectType = "public" | "private" | "cert" | "secret-key" | "data";

export interface Pkcs11Uri {
  /** Token: CK_TOKEN_INFO label, manufacturerID, serialNumber, model. */
  token?: string;
  manufacturer?: string;
  serial?: string;
  model?: string;
  /** Library: CK_INFO manufacturerID, libraryDescription, libraryVersion. */
  libraryManufacturer?: string;
  libraryDescription?: string;
  libraryVersion?: { major: number; minor: number };
  /** Slot: CK_SLOT_INFO slotDescription, manufacturerID, and the slot's CK_SLOT_ID. */
  slotDescription?: string;
  slotManufacturer?: string;
  slotId?: bigint;
  /** Object: CKA_LABEL, CKA_ID (bytes), CKA_CLASS. */
  object?: string;
  id?: Uint8Array;
  type?: ObjectType;
  /** Query (§2.4): where the module and the PIN come from. */
  modulePath?: string;
  moduleName?: string;
  pinSource?: string;
  pinValue?: string;
  /** Attributes this parser does not know, in order (vendor-specific or misspelt). */
  unknown: { name: string; value: string; part: "path" | "query" }[];
}

type TextField = Exclude<keyof Pkcs11Uri, "libraryVersion" | "slotId" | "id" | "type" | "unknown">;

const PATH_TEXT: Readonly<Record<string, TextField>> = {
  token: "token",
  manufacturer: "manufacturer",
  serial: "serial",
  model: "model",
  "library-manufacturer": "libraryManufacturer",
  "library-description": "libraryDescription",
  "slot-description": "slotDescription",
  "slot-manufacturer": "slotManufacturer",
  object: "object",
};
const QUERY_TEXT: Readonly<Record<string, TextField>> = {
  "module-path": "modulePath",
  "module-name": "moduleName",
  "pin-source": "pinSource",
  "pin-value": "pinValue",
};
const TYPES: readonly ObjectType[] = ["public", "private", "cert", "secret-key", "data"];

/** RFC 7512 §2.3: attribute names (pk11-v-attr-nm-char = ALPHA / DIGIT / "-" / "_"). */
const NAME = /^[A-Za-z0-9_-]+$/;
/** Characters a value may carry unencoded: unreserved and pk11-res-avail, plus the part's own. */
const PATH_CHARS = /^[A-Za-z0-9\-._~:[\]@!$'()*+,=&]$/;
const QUERY_CHARS = /^[A-Za-z0-9\-._~:[\]@!$'()*+,=/?|]$/;

function invalid(message: string, uri?: string): TrailsealError {
  return new TrailsealError(
    "PKCS11_URI_INVALID",
    uri === undefined ? message : `pkcs11 uri ${uri}: ${message}`,
  );
}

/** Percent-decodes one value (RFC 3986 §2.1), refusing characters its part must encode. */
function decodeBytes(value: string, name: string, part: "path" | "query"): Uint8Array {
  const out: number[] = [];
  const allowed = part === "path" ? PATH_CHARS : QUERY_CHARS;
  // Never echo a piece of the PIN.
  const secret = name === "pin-value";
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === "%") {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
        throw invalid(
          `attribute ${name}: ${secret ? "a '%'" : `'%${hex}'`} is not a percent-encoded byte (%XX)`,
        );
      }
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (allowed.test(c)) {
      out.push(c.charCodeAt(0));
    } else {
      const enc = [...Buffer.from(c, "utf8")].map((b) => `%${b.toString(16).toUpperCase()}`);
      if (secret) throw invalid(`attribute ${name}: a character in it must be percent-encoded`);
      throw invalid(
        `attribute ${name}: the character '${c}' must be percent-encoded (${enc.join("")})`,
      );
    }
  }
  return new Uint8Array(out);
}

function decodeText(value: string, name: string, part: "path" | "query"): string {
  const bytes = decodeBytes(value, name, part);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalid(`attribute ${name}: its value is not UTF-8 text`);
  }
}

function pathAttribute(out: Pkcs11Uri, name: string, raw: string): void {
  const text = PATH_TEXT[name];
  if (text !== undefined) {
    out[text] = decodeText(raw, name, "path");
    return;
  }
  switch (name) {
    case "id":
      out.id = decodeBytes(raw, name, "path");
      return;
    case "type": {
      const t = decodeText(raw, name, "path");
      if (!(TYPES as readonly string[]).includes(t)) {
        throw invalid(`attribute type: '${t}' is not one of ${TYPES.join(", ")}`);
      }
      out.type = t as ObjectType;
      return;
    }
    case "slot-id": {
      // RFC 7512 §2.3: slot-id = 1*DIGIT, the decimal CK_SLOT_ID.
      const t = decodeText(raw, name, "path");
      if (!/^[0-9]+$/.test(t)) throw invalid(`attribute slot-id: '${t}' is not a decimal number`);
      out.slotId = BigInt(t);
      return;
    }
    case "library-version": {
      // RFC 7512 §2.3: library-version = 1*DIGIT [ "." 1*DIGIT ], major and minor.
      const t = decodeText(raw, name, "path");
      const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(t);
      if (m === null) throw invalid(`attribute library-version: '${t}' is not M or M.N`);
      out.libraryVersion = { major: Number(m[1]), minor: Number(m[2] ?? "0") };
      return;
    }
    default:
      out.unknown.push({ name, value: decodeText(raw, name, "path"), part: "path" });
  }
}

function queryAttribute(out: Pkcs11Uri, name: string, raw: string): void {
  const text = QUERY_TEXT[name];
  if (text !== undefined) out[text] = decodeText(raw, name, "query");
  else out.unknown.push({ name, value: decodeText(raw, name, "query"), part: "query" });
}

/** Splits `name=value` pairs of one part, refusing malformed and repeated attributes (§2.3). */
function pairs(part: string, sep: string, where: "path" | "query"): [string, string][] {
  if (part === "") return [];
  const seen = new Set<string>();
  return part.split(sep).map((item) => {
    const eq = item.indexOf("=");
    const name = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !NAME.test(name)) {
      throw invalid(
        item === ""
          ? `empty ${where} attribute (a doubled '${sep}')`
          : `${where} attribute '${item}' is not name=value`,
      );
    }
    if (seen.has(name)) throw invalid(`attribute ${name} appears twice`);
    seen.add(name);
    return [name, item.slice(eq + 1)];
  });
}

/**
 * Parses a PKCS#11 URI. Throws PKCS11_URI_INVALID naming the attribute at fault.
 *
 * @example
 * parsePkcs11Uri("pkcs11:token=alice;object=audit;type=private?pin-source=file:/etc/pin")
 */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (!/^pkcs11:/i.test(uri)) throw invalid(`'${uri.slice(0, 40)}' does not start with pkcs11:`);
  const rest = uri.slice("pkcs11:".length);
  const q = rest.indexOf("?");
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? "" : rest.slice(q + 1);
  const out: Pkcs11Uri = { unknown: [] };
  try {
    for (const [name, raw] of pairs(path, ";", "path")) pathAttribute(out, name, raw);
    for (const [name, raw] of pairs(query, "&", "query")) queryAttribute(out, name, raw);
  } catch (e) {
    // The value of pin-value is a secret: name the URI without its query.
    if (e instanceof TrailsealError) throw invalid(e.message, `pkcs11:${path}${q < 0 ? "" : "?…"}`);
    throw e;
  }
  if (out.pinSource !== undefined && out.pinValue !== undefined) {
    throw invalid("pin-source and pin-value are both given; use one");
  }
  return out;
}

/** True when `text` names a key by PKCS#11 URI rather than by file. */
/** The URI as messages may show it: without its query, where a pin-value would be. */
export function shownPkcs11Uri(text: string): string {
  const q = text.indexOf("?");
  return q < 0 ? text : text.slice(0, q);
}

export function isPkcs11Uri(text: string): boolean {
  return /^pkcs11:/i.test(text);
}

/** Percent-encodes a value for a URI path (RFC 7512 §2.3); `id` bytes are always encoded. */
function encode(value: string | Uint8Array, all: boolean): string {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  let out = "";
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out +=
      !all && b < 0x80 && PATH_CHARS.test(c) && c !== "&"
        ? c
        : `%${b.toString(16).padStart(2, "0").toUpperCase()}`;
  }
  return out;
}

/** The URI that names one object on one token: what `keys list` prints for the user to pass. */
export function formatPkcs11Uri(fields: {
  token: string;
  serial?: string;
  object?: string;
  id?: Uint8Array;
  type: ObjectType;
}): string {
  const parts = [`token=${encode(fields.token, false)}`];
  if (fields.serial !== undefined && fields.serial !== "")
    parts.push(`serial=${encode(fields.serial, false)}`);
  if (fields.object !== undefined && fields.object !== "")
    parts.push(`object=${encode(fields.object, false)}`);
  if (fields.id !== undefined && fields.id.byteLength > 0)
    parts.push(`id=${encode(fields.id, true)}`);
  parts.push(`type=${fields.type}`);
  return `pkcs11:${parts.join(";")}`;
}
