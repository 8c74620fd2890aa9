/**
 * Keys on PKCS#11 tokens: load the module a URI (or the caller) names, find the token, open a
 * session, log in, and find the private key with the certificate and public key that share its
 * CKA_ID. Every failure names the token and the object; the session is closed and the module
 * finalized when the last key of a module is closed.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { existsSync } from "node:fs";
import { TrailsealError, isTrailsealError } from "../errors.js";
import { publicKeyFingerprint } from "../keys.js";
import { describeCertificate } from "../pem.js";
import { resolvePassin } from "../secret.js";
import {
  CK,
  ckrOf,
  loadBinding,
  mechanismName,
  type Attribute,
  type Binding,
  type Cryptoki,
  type Handle,
  type Importer,
  type ModuleInfo,
  type SlotInfo,
  type TokenInfo,
} from "./binding.js";
import { formatPkcs11Uri, parsePkcs11Uri, shownPkcs11Uri, type Pkcs11Uri } from "./uri.js";

export interface TokenOptions {
  /** The module when the URI has no module-path (the CLI's `--pkcs11-module`). */
  module?: string;
  /** The user PIN when the URI has no pin-source or pin-value (the CLI resolves `--pin`). */
  pin?: string;
  env: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /**
   * Keep the PIN in memory and, when the session is lost, open a new one and log in again
   * (a long-running server); one-shot commands leave it off, so the PIN is dropped after login.
   */
  relogin?: boolean;
  /** Tests replace the import of the binding. */
  importer?: Importer;
}

/** One loaded module, shared by every key opened from it (C_Initialize is once per process). */
export interface LoadedModule {
  readonly path: string;
  readonly lib: Cryptoki;
  readonly binding: Binding;
  readonly info: ModuleInfo;
  refs: number;
}

const loaded = new Map<string, LoadedModule>();

/** The environment variable that names the module when neither the URI nor the caller does. */
export const MODULE_ENV = "TRAILSEAL_PKCS11_MODULE";

/** Where `module-name=NAME` is looked for (RFC 7512 §2.4 leaves the search to the consumer). */
const MODULE_DIRS = ["/usr/lib/x86_64-linux-gnu/pkcs11", "/usr/lib/aarch64-linux-gnu/pkcs11"];

export function modulePath(uri: Pkcs11Uri, options: TokenOptions): string {
  const path = uri.modulePath ?? options.module ?? options.env[MODULE_ENV];
  if (path !== undefined && path !== "") return path;
  if (uri.moduleName !== undefined) {
    const names = [`${uri.moduleName}.so`, `lib${uri.moduleName}.so`];
    for (const dir of MODULE_DIRS) {
      for (const n of names) if (existsSync(`${dir}/${n}`)) return `${dir}/${n}`;
    }
    throw new TrailsealError(
      "PKCS11_MODULE",
      `no pkcs11 module named ${uri.moduleName} in ${MODULE_DIRS.join(" or ")}`,
      { missing: "pkcs11-module" },
    );
  }
  throw new TrailsealError("PKCS11_MODULE", "no pkcs11 module is named for the token key", {
    missing: "pkcs11-module",
  });
}

/** Loads and initializes a module, or shares the one already loaded from that path. */
export async function acquireModule(path: string, importer?: Importer): Promise<LoadedModule> {
  const known = loaded.get(path);
  if (known !== undefined) {
    known.refs++;
    return known;
  }
  const binding = await loadBinding(importer);
  const lib = new binding.PKCS11();
  try {
    lib.load(path);
  } catch (e) {
    const why = String((e as Error).message).split("\n")[0];
    throw new TrailsealError("PKCS11_MODULE", `cannot load pkcs11 module ${path}: ${why}`, {
      cause: e,
    });
  }
  try {
    lib.C_Initialize();
  } catch (e) {
    lib.close();
    throw new TrailsealError(
      "PKCS11_MODULE",
      `pkcs11 module ${path} does not initialize: ${ckrOf(e) ?? String(e)}`,
      { cause: e },
    );
  }
  const m: LoadedModule = { path, lib, binding, info: lib.C_GetInfo(), refs: 1 };
  loaded.set(path, m);
  return m;
}

/** Drops one use of a module; the last finalizes and unloads it. */
export function releaseModule(m: LoadedModule): void {
  if (--m.refs > 0) return;
  loaded.delete(m.path);
  try {
    m.lib.C_Finalize();
  } finally {
    m.lib.close();
  }
}

/** A slot with a token, as the module reports it (blank padding trimmed). */
export interface TokenView {
  readonly slot: Handle;
  readonly slotId: bigint;
  readonly slotInfo: SlotInfo;
  readonly info: TokenInfo;
  readonly label: string;
  readonly serial: string;
}

function slotNumber(slot: Handle): bigint {
  return slot.byteLength >= 8 ? slot.readBigUInt64LE(0) : BigInt(slot.readUInt32LE(0));
}

/** The initialized tokens of a module, by label (an uninitialized one holds nothing to use). */
export function tokensOf(m: LoadedModule): TokenView[] {
  const views = m.lib.C_GetSlotList(true).map((slot) => {
    const info = m.lib.C_GetTokenInfo(slot);
    return {
      slot,
      slotId: slotNumber(slot),
      slotInfo: m.lib.C_GetSlotInfo(slot),
      info,
      label: info.label.trimEnd(),
      serial: info.serialNumber.trimEnd(),
    };
  });
  return views
    .filter((t) => (t.info.flags & CK.CKF_TOKEN_INITIALIZED) !== 0)
    .sort((a, b) => a.label.localeCompare(b.label) || Number(a.slotId - b.slotId));
}

/** RFC 7512 §3.1: every attribute the URI gives must match; absent ones match anything. */
export function tokenMatches(uri: Pkcs11Uri, t: TokenView, lib: ModuleInfo): boolean {
  const same = (want: string | undefined, have: string) =>
    want === undefined || want === have.trimEnd();
  return (
    same(uri.token, t.info.label) &&
    same(uri.manufacturer, t.info.manufacturerID) &&
    same(uri.serial, t.info.serialNumber) &&
    same(uri.model, t.info.model) &&
    same(uri.slotDescription, t.slotInfo.slotDescription) &&
    same(uri.slotManufacturer, t.slotInfo.manufacturerID) &&
    (uri.slotId === undefined || uri.slotId === t.slotId) &&
    same(uri.libraryManufacturer, lib.manufacturerID) &&
    same(uri.libraryDescription, lib.libraryDescription) &&
    (uri.libraryVersion === undefined ||
      (uri.libraryVersion.major === lib.libraryVersion.major &&
        uri.libraryVersion.minor === lib.libraryVersion.minor))
  );
}

export function describeToken(t: TokenView): string {
  return `"${t.label}" (slot ${t.slotId}, serial ${t.serial === "" ? "none" : t.serial})`;
}

/** The one token a URI names, or PKCS11_NO_TOKEN listing the tokens seen. */
export function findToken(m: LoadedModule, uri: Pkcs11Uri, text: string): TokenView {
  const all = tokensOf(m);
  const hits = all.filter((t) => tokenMatches(uri, t, m.info));
  if (hits.length === 1) return hits[0]!;
  const seen =
    all.length === 0
      ? `module ${m.path} has no token`
      : `module ${m.path} has ${all.length === 1 ? "token" : "tokens"} ${all.map(describeToken).join(", ")}`;
  throw new TrailsealError(
    "PKCS11_NO_TOKEN",
    hits.length === 0
      ? `no token matches ${text}; ${seen}`
      : `${text} matches ${hits.length} tokens: ${hits.map(describeToken).join(", ")}; add token= or serial= to the uri`,
  );
}

/** The PIN for a URI: pin-source, pin-value (warned about), else the caller's. */
export function pinFor(
  uri: Pkcs11Uri,
  options: TokenOptions,
): { pin: string | undefined; warnings: string[] } {
  if (uri.pinValue !== undefined) {
    return {
      pin: uri.pinValue,
      warnings: [
        "pin-value in a pkcs11 uri puts the PIN on the command line, where other users can read it in the process list; prefer pin-source=file:PATH",
      ],
    };
  }
  if (uri.pinSource !== undefined) {
    // RFC 7512 §2.4 makes pin-source a URI; trailseal reads file: and env: sources.
    if (!/^(file|env):./.test(uri.pinSource)) {
      throw new TrailsealError(
        "PKCS11_URI_INVALID",
        `pin-source '${uri.pinSource}' is not file:PATH or env:VAR`,
      );
    }
    return { pin: resolvePassin(uri.pinSource, options.env, options.cwd), warnings: [] };
  }
  return { pin: options.pin, warnings: [] };
}

/** Why a login failed, in the token's words (the flags say how many tries are left, if at all). */
export function loginError(token: string, ckr: string, flags: number): TrailsealError {
  if (ckr === "CKR_PIN_LOCKED" || (flags & CK.CKF_USER_PIN_LOCKED) !== 0) {
    return new TrailsealError(
      "PKCS11_PIN_LOCKED",
      `the user pin of token "${token}" is locked (too many wrong pins)`,
      {
        hint: "the token's security officer can unlock it (pkcs11-tool --init-pin --login-type so)",
      },
    );
  }
  if (ckr === "CKR_PIN_INCORRECT") {
    const left =
      (flags & CK.CKF_USER_PIN_FINAL_TRY) !== 0
        ? "; one try is left before the pin locks"
        : (flags & CK.CKF_USER_PIN_COUNT_LOW) !== 0
          ? "; the token says few tries are left"
          : "";
    return new TrailsealError("PKCS11_PIN_INCORRECT", `wrong pin for token "${token}"${left}`);
  }
  if (ckr === "CKR_PIN_EXPIRED") {
    return new TrailsealError("PKCS11_PIN_INCORRECT", `the user pin of token "${token}" expired`);
  }
  return new TrailsealError("PKCS11_FAILED", `login to token "${token}" failed: ${ckr}`);
}

/** Logs the session's user in; a token with a PIN pad (protected path) takes no PIN. */
export function login(m: LoadedModule, session: Handle, t: TokenView, pin?: string): void {
  const pinPad = (t.info.flags & CK.CKF_PROTECTED_AUTHENTICATION_PATH) !== 0;
  if (pin === undefined && !pinPad) {
    throw new TrailsealError("PKCS11_PIN_INCORRECT", `token "${t.label}" needs its user pin`, {
      missing: "pin",
    });
  }
  try {
    m.lib.C_Login(session, CK.CKU_USER, pinPad ? undefined : pin);
  } catch (e) {
    const ckr = ckrOf(e);
    // Login is per application and token: a second key on the token finds it done.
    if (ckr === "CKR_USER_ALREADY_LOGGED_IN") return;
    if (ckr === null) throw e;
    throw loginError(t.label, ckr, m.lib.C_GetTokenInfo(t.slot).flags);
  }
}

export function findObjects(m: LoadedModule, session: Handle, template: Attribute[]): Handle[] {
  m.lib.C_FindObjectsInit(session, template);
  try {
    const out: Handle[] = [];
    for (;;) {
      const batch = m.lib.C_FindObjects(session, 64);
      out.push(...batch);
      if (batch.length < 64) return out;
    }
  } finally {
    m.lib.C_FindObjectsFinal(session);
  }
}

/** One attribute's value, or null where the token has none or withholds it (sensitive). */
export function attribute(
  m: LoadedModule,
  session: Handle,
  object: Handle,
  type: number,
): Buffer | null {
  try {
    const [a] = m.lib.C_GetAttributeValue(session, object, [{ type }]);
    return Buffer.isBuffer(a?.value) ? a.value : null;
  } catch (e) {
    const ckr = ckrOf(e);
    if (ckr === "CKR_ATTRIBUTE_TYPE_INVALID" || ckr === "CKR_ATTRIBUTE_SENSITIVE") return null;
    throw e;
  }
}

function ulong(b: Buffer | null): number | null {
  if (b === null) return null;
  return b.byteLength >= 8 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0);
}

/** CKA_EC_PARAMS as the namedCurve OID DER (RFC 5480 §2.1.1), for the curves trailseal uses. */
const CURVES: readonly { name: "P-256" | "P-384" | "P-521"; oid: string; bytes: number }[] = [
  { name: "P-256", oid: "06082a8648ce3d030107", bytes: 32 },
  { name: "P-384", oid: "06052b81040022", bytes: 48 },
  { name: "P-521", oid: "06052b81040023", bytes: 66 },
];

export function curveOf(
  ecParams: Buffer | null,
): { name: "P-256" | "P-384" | "P-521"; bytes: number } | null {
  const hex = ecParams?.toString("hex");
  return CURVES.find((c) => c.oid === hex) ?? null;
}

/**
 * CKA_EC_POINT is the DER OCTET STRING around the uncompressed point (PKCS#11 v2.40 §2.3.3);
 * some tokens give the bare point. Tells the two apart by the length the curve fixes.
 */
function ecPoint(b: Buffer, fieldBytes: number): Buffer | null {
  const n = 1 + 2 * fieldBytes;
  if (b.byteLength === n) return b;
  const header = n < 0x80 ? [0x04, n] : [0x04, 0x81, n];
  if (b.byteLength === header.length + n && header.every((v, i) => b[i] === v)) {
    return b.subarray(header.length);
  }
  return null;
}

export type TokenKeyType = "RSA" | "EC";

/** A public key from its PKCS#11 attributes (RSA modulus and exponent; EC params and point). */
export function publicKeyFrom(
  keyType: TokenKeyType,
  get: (type: number) => Buffer | null,
): KeyObject | null {
  try {
    if (keyType === "RSA") {
      const n = get(CK.CKA_MODULUS);
      const e = get(CK.CKA_PUBLIC_EXPONENT);
      if (n === null || e === null) return null;
      return createPublicKey({
        key: { kty: "RSA", n: n.toString("base64url"), e: e.toString("base64url") },
        format: "jwk",
      });
    }
    const curve = curveOf(get(CK.CKA_EC_PARAMS));
    const raw = get(CK.CKA_EC_POINT);
    if (curve === null || raw === null) return null;
    const p = ecPoint(raw, curve.bytes);
    if (p?.[0] !== 0x04) return null;
    const x = p.subarray(1, 1 + curve.bytes).toString("base64url");
    const y = p.subarray(1 + curve.bytes).toString("base64url");
    return createPublicKey({ key: { kty: "EC", crv: curve.name, x, y }, format: "jwk" });
  } catch {
    return null;
  }
}

/** What a key on a token is, as far as the token tells without using it. */
export interface TokenKeyInfo {
  readonly module: string;
  readonly token: string;
  readonly serial: string;
  readonly slotId: bigint;
  readonly label: string;
  /** CKA_ID, which links the key to its certificate and public key. */
  readonly id: Uint8Array;
  readonly keyType: TokenKeyType;
  /** RSA modulus bits or EC field bits (521 for P-521). */
  readonly bits: number;
  readonly curve: "P-256" | "P-384" | "P-521" | null;
  /** From the certificate or public key object with the same CKA_ID, or the key's own attributes. */
  readonly publicKey: KeyObject | null;
  /** Lowercase hex SHA-256 of the SubjectPublicKeyInfo: how trailseal names recipients. */
  readonly spkiFingerprint: string | null;
  /** The certificate (DER) with the same CKA_ID, if the token holds one. */
  readonly certificate: Uint8Array | null;
  /** The URI that names exactly this key. */
  readonly uri: string;
}

/** `key "audit" (id 01) on token "alice"`: how messages name a token key. */
export function keyName(k: Pick<TokenKeyInfo, "label" | "id" | "token">): string {
  return `key "${k.label}" (id ${Buffer.from(k.id).toString("hex") || "none"}) on token "${k.token}"`;
}

export function hexId(id: Uint8Array): string {
  return Buffer.from(id).toString("hex");
}

/** The token's certificate and public key for one CKA_ID, and the fingerprint they give. */
function companions(
  m: LoadedModule,
  session: Handle,
  id: Uint8Array,
  keyType: TokenKeyType,
  own: KeyObject | null,
  token: string,
): { publicKey: KeyObject | null; certificate: Uint8Array | null } {
  const byId = (cls: number) =>
    findObjects(m, session, [
      { type: CK.CKA_CLASS, value: cls },
      { type: CK.CKA_ID, value: Buffer.from(id) },
    ])[0];
  const certHandle = byId(CK.CKO_CERTIFICATE);
  const certValue =
    certHandle === undefined ? null : attribute(m, session, certHandle, CK.CKA_VALUE);
  const certificate = certValue === null ? null : new Uint8Array(certValue);
  const pubHandle = byId(CK.CKO_PUBLIC_KEY);
  const publicKey =
    (pubHandle === undefined
      ? null
      : publicKeyFrom(keyType, (t) => attribute(m, session, pubHandle, t))) ?? own;
  if (certificate !== null && publicKey !== null) {
    const certFp = describeCertificate(certificate).spkiFingerprint;
    if (certFp !== publicKeyFingerprint(publicKey)) {
      throw new TrailsealError(
        "KEY_INVALID",
        `the certificate with id ${hexId(id)} on token "${token}" is not for the key with that id (sha256:${certFp})`,
      );
    }
  }
  return { publicKey, certificate };
}

/** Reads what a token tells about one key object (private or public). */
export function keyInfo(
  m: LoadedModule,
  session: Handle,
  t: TokenView,
  object: Handle,
  type: "private" | "public",
): TokenKeyInfo | null {
  const get = (a: number) => attribute(m, session, object, a);
  const kt = ulong(get(CK.CKA_KEY_TYPE));
  const keyType: TokenKeyType | null = kt === CK.CKK_RSA ? "RSA" : kt === CK.CKK_EC ? "EC" : null;
  if (keyType === null) return null;
  const label = get(CK.CKA_LABEL)?.toString("utf8") ?? "";
  const id = new Uint8Array(get(CK.CKA_ID) ?? []);
  const curve = keyType === "EC" ? curveOf(get(CK.CKA_EC_PARAMS)) : null;
  const own = publicKeyFrom(keyType, get);
  const { publicKey, certificate } = companions(m, session, id, keyType, own, t.label);
  const fromCert = certificate === null ? null : describeCertificate(certificate);
  const modulus = keyType === "RSA" ? get(CK.CKA_MODULUS) : null;
  const bits =
    keyType === "RSA"
      ? modulus === null
        ? (fromCert?.keySize ?? 0)
        : modulusBits(modulus)
      : curve === null
        ? (fromCert?.keySize ?? 0)
        : { "P-256": 256, "P-384": 384, "P-521": 521 }[curve.name];
  return {
    module: m.path,
    token: t.label,
    serial: t.serial,
    slotId: t.slotId,
    label,
    id,
    keyType,
    bits,
    curve: curve?.name ?? null,
    publicKey,
    spkiFingerprint:
      fromCert?.spkiFingerprint ?? (publicKey === null ? null : publicKeyFingerprint(publicKey)),
    certificate,
    uri: formatPkcs11Uri({ token: t.label, serial: t.serial, object: label, id, type }),
  };
}

function modulusBits(n: Buffer): number {
  let i = 0;
  while (i < n.byteLength && n[i] === 0) i++;
  if (i === n.byteLength) return 0;
  return (n.byteLength - i) * 8 - Math.clz32(n[i]!) + 24;
}

/** Refuses a URI with attributes trailseal does not know: ignoring one could match more. */
export function refuseUnknown(uri: Pkcs11Uri): void {
  const u = uri.unknown[0];
  if (u !== undefined) {
    throw new TrailsealError(
      "PKCS11_URI_INVALID",
      `pkcs11 uri ${u.part} attribute ${u.name} is not one trailseal knows; remove it (an ignored attribute would match more objects than meant)`,
    );
  }
}

/**
 * Maps a binding error during `what` with `key` to the error that names the token and object:
 * removed token or lost session, a mechanism it lacks, else PKCS11_FAILED with the CKR name.
 */
export function tokenFailure(e: unknown, key: TokenKeyInfo, what: string): unknown {
  if (e instanceof TrailsealError) return e;
  const ckr = ckrOf(e);
  if (ckr === null) return e;
  if (
    ckr === "CKR_DEVICE_REMOVED" ||
    ckr === "CKR_TOKEN_NOT_PRESENT" ||
    ckr === "CKR_SESSION_HANDLE_INVALID" ||
    ckr === "CKR_SESSION_CLOSED"
  ) {
    return new TrailsealError(
      "PKCS11_TOKEN_REMOVED",
      `token "${key.token}" was removed, or its session lost, while ${what} with ${keyName(key)} (${ckr})`,
      { cause: e, hint: "insert the token again and rerun the command" },
    );
  }
  if (ckr === "CKR_PIN_LOCKED" || ckr === "CKR_USER_NOT_LOGGED_IN") {
    return loginError(key.token, ckr, 0);
  }
  return new TrailsealError("PKCS11_FAILED", `${what} with ${keyName(key)} failed: ${ckr}`, {
    cause: e,
  });
}

/** PKCS11_MECHANISM naming what the token lacks and what it offers (C_GetMechanismList). */
export function mechanismMissing(
  key: TokenKeyInfo,
  wanted: string,
  offered: readonly number[],
  binding?: Binding,
): TrailsealError {
  const names = offered.map((t) => mechanismName(t, binding)).sort();
  return new TrailsealError(
    "PKCS11_MECHANISM",
    `token "${key.token}" does not offer ${wanted} for ${keyName(key)}; it offers ${names.length === 0 ? "no mechanism" : names.join(", ")}`,
  );
}

/**
 * An open session on a token, logged in, with one private key found. Operations go through
 * `call`, which maps the binding's errors to ones that name the token and the key.
 */
export class TokenKey {
  #open = true;
  #mechanisms: number[] | undefined;
  #session: Handle;
  #handle: Handle;
  readonly #reopen: (() => { session: Handle; handle: Handle }) | undefined;

  constructor(
    readonly info: TokenKeyInfo,
    readonly loadedModule: LoadedModule,
    readonly slot: Handle,
    session: Handle,
    handle: Handle,
    reopen?: () => { session: Handle; handle: Handle },
  ) {
    this.#session = session;
    this.#handle = handle;
    this.#reopen = reopen;
  }

  get session(): Handle {
    return this.#session;
  }

  get binding(): Binding {
    return this.loadedModule.binding;
  }

  /** C_GetMechanismList, asked once. */
  mechanisms(): readonly number[] {
    this.#mechanisms ??= this.call("listing mechanisms", (lib) =>
      lib.C_GetMechanismList(this.slot),
    );
    return this.#mechanisms;
  }

  offers(mechanism: number): boolean {
    return this.mechanisms().includes(mechanism);
  }

  /** Throws PKCS11_MECHANISM unless the token offers `mechanism`. */
  require(mechanism: number, purpose: string): void {
    if (!this.offers(mechanism)) {
      throw mechanismMissing(
        this.info,
        `${mechanismName(mechanism)} (${purpose})`,
        this.mechanisms(),
        this.binding,
      );
    }
  }

  /**
   * Runs one operation on the session. A key opened with `relogin` that loses its session (the
   * token was reset, or pulled and put back) opens a new one, logs in again and retries once.
   */
  call<T>(what: string, body: (lib: Cryptoki, session: Handle, key: Handle) => T): T {
    if (!this.#open) throw new TrailsealError("USAGE", `${keyName(this.info)} is closed`);
    try {
      return body(this.loadedModule.lib, this.#session, this.#handle);
    } catch (e) {
      const failure = tokenFailure(e, this.info, what);
      if (this.#reopen === undefined || !isTrailsealError(failure, "PKCS11_TOKEN_REMOVED")) {
        throw failure;
      }
      try {
        ({ session: this.#session, handle: this.#handle } = this.#reopen());
      } catch {
        throw failure;
      }
      try {
        return body(this.loadedModule.lib, this.#session, this.#handle);
      } catch (again) {
        throw tokenFailure(again, this.info, what);
      }
    }
  }

  /** Closes the session; the module is finalized when its last key closes. Idempotent. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.loadedModule.lib.C_CloseSession(this.#session);
    } catch {
      // A removed token has closed it already.
    } finally {
      releaseModule(this.loadedModule);
    }
  }
}

/** A new session on the same token, logged in, with the same key found again by its CKA_ID. */
function reopenSession(
  m: LoadedModule,
  t: TokenView,
  pin: string | undefined,
  info: TokenKeyInfo,
): { session: Handle; handle: Handle } {
  const session = m.lib.C_OpenSession(t.slot, CK.CKF_SERIAL_SESSION);
  try {
    login(m, session, t, pin);
    const [handle, ...more] = findObjects(m, session, [
      { type: CK.CKA_CLASS, value: CK.CKO_PRIVATE_KEY },
      { type: CK.CKA_LABEL, value: info.label },
      { type: CK.CKA_ID, value: Buffer.from(info.id) },
    ]);
    if (handle === undefined || more.length > 0) throw new Error("the key is not there again");
    return { session, handle };
  } catch (e) {
    m.lib.C_CloseSession(session);
    throw e;
  }
}

function keyTemplate(uri: Pkcs11Uri): Attribute[] {
  const t: Attribute[] = [{ type: CK.CKA_CLASS, value: CK.CKO_PRIVATE_KEY }];
  if (uri.object !== undefined) t.push({ type: CK.CKA_LABEL, value: uri.object });
  if (uri.id !== undefined) t.push({ type: CK.CKA_ID, value: Buffer.from(uri.id) });
  return t;
}

/** The one private key the URI names on the token, or PKCS11_NO_OBJECT saying what is there. */
function findKey(m: LoadedModule, session: Handle, t: TokenView, uri: Pkcs11Uri, text: string) {
  const hits = findObjects(m, session, keyTemplate(uri));
  if (hits.length === 1) {
    const info = keyInfo(m, session, t, hits[0]!, "private");
    if (info !== null) return { handle: hits[0]!, info };
    throw new TrailsealError(
      "KEY_UNSUPPORTED",
      `${text} names a private key on token "${t.label}" that is neither RSA nor EC`,
    );
  }
  const all = findObjects(m, session, [{ type: CK.CKA_CLASS, value: CK.CKO_PRIVATE_KEY }]);
  const names = all
    .map((h) => keyInfo(m, session, t, h, "private"))
    .filter((k) => k !== null)
    .sort((a, b) => a.label.localeCompare(b.label))
    .map((k) => `"${k.label}" (id ${hexId(k.id) || "none"})`);
  const holds =
    names.length === 0 ? "it holds no private key" : `it holds private keys ${names.join(", ")}`;
  throw new TrailsealError(
    "PKCS11_NO_OBJECT",
    hits.length === 0
      ? `no private key matches ${text} on token "${t.label}"; ${holds}`
      : `${text} matches ${hits.length} private keys on token "${t.label}"; ${holds}; add id= to the uri`,
  );
}

/**
 * Opens the private key a PKCS#11 URI names: module, token, session, login, key, and the
 * certificate and public key with its CKA_ID. Warnings (pin-value) are returned for the caller
 * to print. Close the key when done.
 *
 * @example
 * const { key } = await openTokenKey("pkcs11:token=alice;object=audit;type=private", {
 *   module: "/usr/lib/softhsm/libsofthsm2.so", pin, env: process.env });
 * try { ... } finally { key.close(); }
 */
export async function openTokenKey(
  text: string,
  options: TokenOptions,
): Promise<{ key: TokenKey; warnings: string[] }> {
  const uri = parsePkcs11Uri(text);
  refuseUnknown(uri);
  const named = shownPkcs11Uri(text);
  if (uri.type !== undefined && uri.type !== "private") {
    throw new TrailsealError(
      "PKCS11_URI_INVALID",
      `${named} names a ${uri.type} object; a key to use is type=private`,
    );
  }
  const { pin, warnings } = pinFor(uri, options);
  const m = await acquireModule(modulePath(uri, options), options.importer);
  try {
    const t = findToken(m, uri, named);
    const session = m.lib.C_OpenSession(t.slot, CK.CKF_SERIAL_SESSION);
    try {
      login(m, session, t, pin);
      const { handle, info } = findKey(m, session, t, uri, named);
      const reopen = options.relogin === true ? () => reopenSession(m, t, pin, info) : undefined;
      return { key: new TokenKey(info, m, t.slot, session, handle, reopen), warnings };
    } catch (e) {
      m.lib.C_CloseSession(session);
      throw e;
    }
  } catch (e) {
    releaseModule(m);
    throw e;
  }
}
