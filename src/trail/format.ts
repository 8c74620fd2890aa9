/**
 * Trail format v1: encoding and decoding of the header and records. docs/FORMAT.md describes
 * every byte; this file is its executable form. Integers are big-endian.
 *
 *   file    = header annex *record
 *   header  = magic(8) version(u16) sealedLength(u32) sealed(JSON)
 *   annex   = annexLength(u32) annex(JSON)
 *   record  = kind(u8) flags(u8) channel(u8) reserved(u8) seq(u64) time(u64) length(u32) body
 */
import { createHash, hash as oneShot } from "node:crypto";
import { TrailsealError } from "../errors.js";
import type { Channel, SessionMetadata } from "../events.js";
import { concat, utf8 } from "../bytes.js";
import type { StanzaLayer } from "../recipients.js";
import { MAX_INTERVAL, MIN_INTERVAL } from "../policy/rules.js";

export const MAGIC = new Uint8Array([0x89, 0x54, 0x52, 0x41, 0x49, 0x4c, 0x0d, 0x0a]); // \x89TRAIL\r\n
export const FORMAT_VERSION = 1;
export const FORMAT_NAME = "trailseal/1";
/** Headers hold certificates-sized stanzas, never bulk data: 16 MiB is far beyond any real one. */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;
export const RECORD_PREFIX_BYTES = 24;
/** Largest record body: a 64 KiB frame plus its tag, or a checkpoint with a certificate chain. */
export const MAX_RECORD_BODY = 1024 * 1024;

export const RecordKind = { frame: 1, checkpoint: 2, stamp: 3 } as const;
export type RecordKindName = keyof typeof RecordKind;

/** Frame flags. */
export const FLAG_LAST = 0x01;
export const FLAG_CONTINUED = 0x02;
/** Checkpoint flags. */
export const FLAG_FINAL = 0x01;

export const CHANNEL_CODE: Readonly<Record<Channel, number>> = { downstream: 0, upstream: 1 };
export const NO_CHANNEL = 0xff;

/** The first byte of a frame's plaintext: what the rest is. */
export const FrameType = { data: 0, resize: 1, marker: 2, exit: 3, end: 4 } as const;

export interface HeaderStanza {
  /** Index of the policy list entry this stanza was made for. */
  readonly entry: number;
  /** Outermost first: [four_eyes_certificate, certificate] or [certificate]. */
  readonly layers: readonly StanzaLayer[];
  /** ContentInfo(EnvelopedData), base64 of the DER. */
  readonly der: string;
}

export interface ChannelHeader {
  readonly encrypted: boolean;
  /** Hex HMAC-SHA-256 key commitment (encrypted channels only). */
  readonly commitment?: string;
  readonly stanzas?: readonly HeaderStanza[];
}

export interface TrailHeader {
  readonly format: typeof FORMAT_NAME;
  /** 128-bit random trail identifier, hex. */
  readonly trail: string;
  /** When the trail was started (wall clock, ISO 8601). */
  readonly created: string;
  readonly policy: {
    readonly name: string;
    readonly signing: boolean;
    readonly timestamping: "local" | "remote" | null;
    readonly policyOid: string | null;
    readonly interval: number;
  };
  readonly session: SessionMetadata;
  readonly channels: { readonly downstream: ChannelHeader; readonly upstream: ChannelHeader };
}

export interface AnnexStanza extends HeaderStanza {
  readonly channel: Channel;
  /** When `trailseal share` added it (ISO 8601). */
  readonly added: string;
}

/** Stanzas added after sealing by `share`: outside the chain, trusted only through commitments. */
export interface TrailAnnex {
  readonly stanzas: readonly AnnexStanza[];
}

export interface RecordPrefix {
  readonly kind: number;
  readonly flags: number;
  readonly channel: number;
  readonly seq: number;
  /** Session time in microseconds. */
  readonly time: number;
  readonly length: number;
}

export function encodeHeader(
  header: TrailHeader,
  annex: TrailAnnex,
): {
  sealed: Uint8Array;
  annex: Uint8Array;
} {
  const sealedJson = utf8.encode(JSON.stringify(header));
  const annexJson =
    annex.stanzas.length === 0 ? new Uint8Array(0) : utf8.encode(JSON.stringify(annex));
  const sealed = new Uint8Array(8 + 2 + 4 + sealedJson.byteLength);
  sealed.set(MAGIC, 0);
  const view = new DataView(sealed.buffer);
  view.setUint16(8, FORMAT_VERSION);
  view.setUint32(10, sealedJson.byteLength);
  sealed.set(sealedJson, 14);
  const annexBytes = new Uint8Array(4 + annexJson.byteLength);
  new DataView(annexBytes.buffer).setUint32(0, annexJson.byteLength);
  annexBytes.set(annexJson, 4);
  return { sealed, annex: annexBytes };
}

/** The chain's start: SHA-256 over the sealed header bytes (magic through sealed JSON). */
export function headerDigest(sealed: Uint8Array): Uint8Array {
  return sha256(sealed);
}

/**
 * SHA-256 of one buffer, one-shot: `crypto.hash` makes no Hash object, which costs more than
 * hashing a small record (issue 9). The 32 bytes are copied into their own ArrayBuffer, as before.
 */
function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(oneShot("sha256", data, "buffer"));
}

/** Up to this many bytes, a record is copied into one buffer and hashed one-shot. */
const ONE_SHOT_BYTES = 16 * 1024;

export function encodeRecordPrefix(p: RecordPrefix): Uint8Array {
  const out = new Uint8Array(RECORD_PREFIX_BYTES);
  const view = new DataView(out.buffer);
  view.setUint8(0, p.kind);
  view.setUint8(1, p.flags);
  view.setUint8(2, p.channel);
  view.setUint8(3, 0);
  view.setBigUint64(4, BigInt(p.seq));
  view.setBigUint64(12, BigInt(p.time));
  view.setUint32(20, p.length);
  return out;
}

export function decodeRecordPrefix(bytes: Uint8Array, offset: number): RecordPrefix {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seq = view.getBigUint64(4);
  const time = view.getBigUint64(12);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER) || time > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new TrailsealError(
      "RECORD_INVALID",
      `record at byte ${offset}: sequence or time out of range`,
    );
  }
  if (view.getUint8(3) !== 0) {
    throw new TrailsealError(
      "RECORD_INVALID",
      `record ${seq} at byte ${offset}: reserved byte is not zero`,
    );
  }
  return {
    kind: view.getUint8(0),
    flags: view.getUint8(1),
    channel: view.getUint8(2),
    seq: Number(seq),
    time: Number(time),
    length: view.getUint32(20),
  };
}

/** A frame's associated data: the trail's start digest and the record's clear prefix. */
export function frameAad(start: Uint8Array, prefix: Uint8Array): Uint8Array {
  return concat(start, prefix);
}

/**
 * The digest of one record: SHA-256 over its prefix and body (ciphertext, not plaintext); the
 * body may come in parts, as the writer makes it.
 */
export function recordDigest(prefix: Uint8Array, ...body: readonly Uint8Array[]): Uint8Array {
  if (body.length === 1) {
    const part = body[0]!;
    // Prefix and body read side by side from one buffer: hash the one view, no copy.
    if (part.buffer === prefix.buffer && part.byteOffset === prefix.byteOffset + prefix.byteLength)
      return sha256(
        new Uint8Array(prefix.buffer, prefix.byteOffset, prefix.byteLength + part.byteLength),
      );
  }
  let total = prefix.byteLength;
  for (const part of body) total += part.byteLength;
  if (total <= ONE_SHOT_BYTES) {
    const all = new Uint8Array(total);
    all.set(prefix, 0);
    let at = prefix.byteLength;
    for (const part of body) {
      all.set(part, at);
      at += part.byteLength;
    }
    return sha256(all);
  }
  const hash = createHash("sha256").update(prefix);
  for (const part of body) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** Extends the chain: head' = SHA-256(head ‖ recordDigest). */
export function extendChain(head: Uint8Array, digest: Uint8Array): Uint8Array {
  const both = new Uint8Array(head.byteLength + digest.byteLength);
  both.set(head, 0);
  both.set(digest, head.byteLength);
  return sha256(both);
}

// ---- checkpoint and stamp bodies -------------------------------------------------------------

/** What a checkpoint states; its text form is the content that is signed and timestamped. */
export interface CheckpointStatement {
  readonly trail: string;
  /** 1, 2, 3, … in order. */
  readonly index: number;
  /** Session time of the checkpoint, microseconds. */
  readonly time: number;
  /** Records covered: sequence numbers 0 … records-1. */
  readonly records: number;
  /** Chain head after the last covered record, hex. */
  readonly head: string;
  /** Sequence number of the previous checkpoint record, or null for the first. */
  readonly previous: number | null;
  readonly final: boolean;
}

/** The exact bytes a checkpoint signs: short, line-oriented text that an auditor can read. */
export function checkpointContent(s: CheckpointStatement): Uint8Array {
  const seconds = `${Math.floor(s.time / 1e6)}.${String(s.time % 1e6).padStart(6, "0")}`;
  return utf8.encode(
    [
      "trailseal checkpoint",
      `format: ${FORMAT_NAME}`,
      `trail: ${s.trail}`,
      `checkpoint: ${s.index}`,
      `time: ${seconds}`,
      `records: ${s.records}`,
      `head: ${s.head}`,
      `previous: ${s.previous === null ? "none" : s.previous}`,
      `final: ${s.final ? "yes" : "no"}`,
      "",
    ].join("\n"),
  );
}

export interface CheckpointBody {
  readonly content: Uint8Array;
  /** CMS SignedData DER, or empty when the trail is not signed. */
  readonly signature: Uint8Array;
}

export function encodeCheckpointBody(b: CheckpointBody): Uint8Array {
  const out = new Uint8Array(4 + b.content.byteLength + 4 + b.signature.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, b.content.byteLength);
  out.set(b.content, 4);
  view.setUint32(4 + b.content.byteLength, b.signature.byteLength);
  out.set(b.signature, 8 + b.content.byteLength);
  return out;
}

export function decodeCheckpointBody(body: Uint8Array, seq: number): CheckpointBody {
  const r = new BodyReader(body, `record ${seq} (checkpoint)`);
  const content = r.bytes(r.u32());
  const signature = r.bytes(r.u32());
  r.end();
  return { content, signature };
}

export const StampStatus = { granted: 1, failed: 2 } as const;
export const StampSource = { local: 1, remote: 2 } as const;

export interface StampBody {
  /** Sequence number of the checkpoint record this stamp belongs to. */
  readonly checkpoint: number;
  readonly status: "granted" | "failed";
  readonly source: "local" | "remote";
  /** The request nonce, big-endian unsigned. */
  readonly nonce: bigint;
  /** TimeStampToken DER (granted only). */
  readonly token: Uint8Array;
  /** For a failure, why (at most 1000 characters); empty when granted (docs/FORMAT.md, "Stamps"). */
  readonly note: string;
}

export function encodeStampBody(b: StampBody): Uint8Array {
  const nonceHex = b.nonce.toString(16);
  const nonce = Buffer.from(nonceHex.length % 2 === 0 ? nonceHex : `0${nonceHex}`, "hex");
  const note = utf8.encode(b.note);
  const out = new Uint8Array(
    8 + 1 + 1 + 1 + nonce.byteLength + 4 + b.token.byteLength + 2 + note.byteLength,
  );
  const view = new DataView(out.buffer);
  let o = 0;
  view.setBigUint64(o, BigInt(b.checkpoint));
  o += 8;
  view.setUint8(o++, StampStatus[b.status]);
  view.setUint8(o++, StampSource[b.source]);
  view.setUint8(o++, nonce.byteLength);
  out.set(nonce, o);
  o += nonce.byteLength;
  view.setUint32(o, b.token.byteLength);
  o += 4;
  out.set(b.token, o);
  o += b.token.byteLength;
  view.setUint16(o, note.byteLength);
  o += 2;
  out.set(note, o);
  return out;
}

export function decodeStampBody(body: Uint8Array, seq: number): StampBody {
  const r = new BodyReader(body, `record ${seq} (stamp)`);
  const checkpoint = r.u64();
  const statusCode = r.u8();
  const sourceCode = r.u8();
  const nonceBytes = r.bytes(r.u8());
  const token = r.bytes(r.u32());
  const note = utf8.decode(r.bytes(r.u16()));
  r.end();
  const status = statusCode === 1 ? "granted" : statusCode === 2 ? "failed" : null;
  const source = sourceCode === 1 ? "local" : sourceCode === 2 ? "remote" : null;
  if (status === null || source === null) {
    throw new TrailsealError("RECORD_INVALID", `record ${seq} (stamp): unknown status or source`);
  }
  if ((status === "granted") !== token.byteLength > 0) {
    throw new TrailsealError(
      "RECORD_INVALID",
      `record ${seq} (stamp): a ${status} stamp ${status === "granted" ? "without" : "with"} a token`,
    );
  }
  const nonce =
    nonceBytes.byteLength === 0 ? 0n : BigInt(`0x${Buffer.from(nonceBytes).toString("hex")}`);
  return { checkpoint, status, source, nonce, token, note };
}

/** Bounds-checked reads from a record body; errors name the record. */
class BodyReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(
    private readonly body: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }

  private need(n: number): void {
    if (this.offset + n > this.body.byteLength) {
      throw new TrailsealError("RECORD_INVALID", `${this.what}: body ends early`);
    }
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.offset++);
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.offset);
    this.offset += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new TrailsealError("RECORD_INVALID", `${this.what}: number out of range`);
    }
    return Number(v);
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.body.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  end(): void {
    if (this.offset !== this.body.byteLength) {
      throw new TrailsealError("RECORD_INVALID", `${this.what}: trailing bytes in body`);
    }
  }
}

// ---- frame plaintext -------------------------------------------------------------------------

/** A decoded frame plaintext. `data` frames carry output (downstream) or input (upstream). */
export type FramePayload =
  | { readonly type: "data"; readonly data: Uint8Array }
  | { readonly type: "resize"; readonly cols: number; readonly rows: number }
  | { readonly type: "marker"; readonly label: string }
  | { readonly type: "exit"; readonly status: number }
  | { readonly type: "end" };

const DATA_FRAME_TYPE = new Uint8Array([FrameType.data]);

/**
 * A frame payload as parts whose concatenation is `encodeFramePayload(p)`: a data frame's bytes
 * are not copied behind its type byte (the writer's hot path: 64 KiB frames of bulk data).
 */
export function encodeFramePayloadParts(p: FramePayload): readonly Uint8Array[] {
  return p.type === "data" ? [DATA_FRAME_TYPE, p.data] : [encodeFramePayload(p)];
}

export function encodeFramePayload(p: FramePayload): Uint8Array {
  const body = payloadBody(p);
  const out = new Uint8Array(1 + body.byteLength);
  out[0] = FrameType[p.type];
  out.set(body, 1);
  return out;
}

/** What follows the type byte: the bytes, the label (UTF-8), big-endian numbers, or nothing. */
function payloadBody(p: FramePayload): Uint8Array {
  switch (p.type) {
    case "data":
      return p.data;
    case "marker":
      return utf8.encode(p.label);
    case "resize": {
      const body = new Uint8Array(4);
      const view = new DataView(body.buffer);
      view.setUint16(0, p.cols);
      view.setUint16(2, p.rows);
      return body;
    }
    case "exit": {
      const body = new Uint8Array(4);
      new DataView(body.buffer).setInt32(0, p.status);
      return body;
    }
    case "end":
      return new Uint8Array(0);
  }
}

export function decodeFramePayload(plain: Uint8Array, seq: number): FramePayload {
  const bad = (why: string): TrailsealError =>
    new TrailsealError("RECORD_INVALID", `record ${seq}: frame payload ${why}`);
  if (plain.byteLength === 0) throw bad("is empty");
  const view = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
  switch (plain[0]) {
    case FrameType.data:
      return { type: "data", data: plain.subarray(1) };
    case FrameType.resize:
      if (plain.byteLength !== 5) throw bad("has a bad resize length");
      return { type: "resize", cols: view.getUint16(1), rows: view.getUint16(3) };
    case FrameType.marker:
      return { type: "marker", label: utf8.decode(plain.subarray(1)) };
    case FrameType.exit:
      if (plain.byteLength !== 5) throw bad("has a bad exit length");
      return { type: "exit", status: view.getInt32(1) };
    case FrameType.end:
      if (plain.byteLength !== 1) throw bad("has bytes after the end mark");
      return { type: "end" };
    default:
      throw bad(`has unknown type ${plain[0]}`);
  }
}

/** More stanzas than this per channel (sealed or added) is no policy anyone writes. */
export const MAX_STANZAS = 256;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

function parseJson(json: Uint8Array, what: string, name: string): unknown {
  try {
    return JSON.parse(utf8.decode(json));
  } catch (e) {
    throw new TrailsealError("HEADER_INVALID", `${name}: ${what} is not valid JSON`, { cause: e });
  }
}

/**
 * Parses and checks the sealed header JSON (§ Header in docs/FORMAT.md): every field the
 * readers use has its type, so no crafted header reaches code that trusts it.
 */
export function parseHeaderJson(json: Uint8Array, name: string): TrailHeader {
  const h = parseJson(json, "header", name);
  const bad = (why: string): TrailsealError =>
    new TrailsealError("HEADER_INVALID", `${name}: header ${why}`);
  if (!isObject(h)) throw bad("is not an object");
  if (h["format"] !== FORMAT_NAME)
    throw bad(`names format ${JSON.stringify(h["format"])}, not ${FORMAT_NAME}`);
  if (typeof h["trail"] !== "string" || !/^[0-9a-f]{32}$/.test(h["trail"]))
    throw bad("has no trail id");
  if (typeof h["created"] !== "string" || Number.isNaN(Date.parse(h["created"])))
    throw bad("has no creation time");
  const p = h["policy"];
  if (
    !isObject(p) ||
    typeof p["name"] !== "string" ||
    typeof p["signing"] !== "boolean" ||
    !(
      p["timestamping"] === null ||
      p["timestamping"] === "local" ||
      p["timestamping"] === "remote"
    ) ||
    !(
      p["policyOid"] === null ||
      (typeof p["policyOid"] === "string" && /^\d+(\.\d+)+$/.test(p["policyOid"]))
    ) ||
    !Number.isInteger(p["interval"]) ||
    (p["interval"] as number) < MIN_INTERVAL ||
    (p["interval"] as number) > MAX_INTERVAL
  ) {
    throw bad("has a malformed policy summary");
  }
  if (!isObject(h["session"])) throw bad("has no session block");
  const c = h["channels"];
  if (!isObject(c)) throw bad("has no channels");
  for (const channel of ["downstream", "upstream"] as const) {
    const ch = c[channel];
    if (!isObject(ch) || typeof ch["encrypted"] !== "boolean")
      throw bad(`has no ${channel} channel`);
    if (ch["encrypted"]) {
      if (typeof ch["commitment"] !== "string" || !/^[0-9a-f]{64}$/.test(ch["commitment"])) {
        throw bad(`has no key commitment for ${channel}`);
      }
      const stanzas = ch["stanzas"];
      if (!Array.isArray(stanzas) || stanzas.length === 0) throw bad(`has no ${channel} stanzas`);
      if (stanzas.length > MAX_STANZAS)
        throw bad(`has more than ${MAX_STANZAS} ${channel} stanzas`);
      stanzas.forEach((s: unknown, i) => checkStanzaShape(s, `${name}: ${channel} stanza ${i}`));
    }
  }
  return h as unknown as TrailHeader;
}

/** Parses and checks the annex JSON (stanzas added by `share`). */
export function parseAnnexJson(json: Uint8Array, name: string): TrailAnnex {
  if (json.byteLength === 0) return { stanzas: [] };
  const a = parseJson(json, "annex", name);
  if (!isObject(a) || !Array.isArray(a["stanzas"])) {
    throw new TrailsealError("HEADER_INVALID", `${name}: annex has no stanza list`);
  }
  const stanzas = a["stanzas"] as unknown[];
  if (stanzas.length > 2 * MAX_STANZAS) {
    throw new TrailsealError(
      "HEADER_INVALID",
      `${name}: annex has more than ${2 * MAX_STANZAS} stanzas`,
    );
  }
  stanzas.forEach((s, i) => {
    checkStanzaShape(s, `${name}: added stanza ${i}`);
    const st = s as Record<string, unknown>;
    if (st["channel"] !== "downstream" && st["channel"] !== "upstream") {
      throw new TrailsealError("HEADER_INVALID", `${name}: added stanza ${i} names no channel`);
    }
    if (typeof st["added"] !== "string") {
      throw new TrailsealError("HEADER_INVALID", `${name}: added stanza ${i} has no time`);
    }
  });
  return a as unknown as TrailAnnex;
}

function checkStanzaShape(s: unknown, what: string): void {
  const ok =
    isObject(s) &&
    Number.isInteger(s["entry"]) &&
    typeof s["der"] === "string" &&
    Array.isArray(s["layers"]) &&
    s["layers"].length >= 1 &&
    s["layers"].length <= 2 &&
    (s["layers"] as unknown[]).every(
      (l) =>
        isObject(l) &&
        typeof l["spkiFingerprint"] === "string" &&
        /^[0-9a-f]{64}$/.test(l["spkiFingerprint"]) &&
        typeof l["subject"] === "string" &&
        (l["keyType"] === "RSA" || l["keyType"] === "EC"),
    );
  if (!ok) throw new TrailsealError("HEADER_INVALID", `${what} is malformed`);
}
