/**
 * What a module's tokens hold, for `trailseal keys list`: tokens and slots, and on each the
 * private keys (after login), public keys and certificates, with the SPKI fingerprint trailseal
 * names recipients by and the URI that names each object.
 */
import { TrailsealError } from "../errors.js";
import { describeCertificate } from "../pem.js";
import { CK, type Handle } from "./binding.js";
import {
  acquireModule,
  attribute,
  findObjects,
  findToken,
  hexId,
  keyInfo,
  login,
  modulePath,
  pinFor,
  refuseUnknown,
  releaseModule,
  tokenMatches,
  tokensOf,
  type LoadedModule,
  type TokenOptions,
  type TokenView,
} from "./token.js";
import { formatPkcs11Uri, parsePkcs11Uri, shownPkcs11Uri, type Pkcs11Uri } from "./uri.js";

export interface ListedObject {
  kind: "private-key" | "public-key" | "certificate";
  label: string;
  /** CKA_ID, lowercase hex. */
  id: string;
  keyType: "RSA" | "EC" | null;
  /** RSA modulus bits or EC field bits. */
  bits: number | null;
  curve: string | null;
  /** A certificate's subject. */
  subject: string | null;
  spkiFingerprint: string | null;
  uri: string;
}

export interface ListedToken {
  label: string;
  serial: string;
  manufacturer: string;
  model: string;
  /** The decimal CK_SLOT_ID (a string: it may not fit a JSON number). */
  slotId: string;
  slotDescription: string;
  loggedIn: boolean;
  objects: ListedObject[];
}

export interface Listing {
  module: { path: string; manufacturer: string; description: string; version: string };
  tokens: ListedToken[];
  warnings: string[];
}

function certificateObject(
  m: LoadedModule,
  session: Handle,
  t: TokenView,
  h: Handle,
): ListedObject | null {
  const value = attribute(m, session, h, CK.CKA_VALUE);
  if (value === null) return null;
  const label = attribute(m, session, h, CK.CKA_LABEL)?.toString("utf8") ?? "";
  const id = new Uint8Array(attribute(m, session, h, CK.CKA_ID) ?? []);
  let info: ReturnType<typeof describeCertificate>;
  try {
    info = describeCertificate(new Uint8Array(value));
  } catch {
    return null;
  }
  return {
    kind: "certificate",
    label,
    id: hexId(id),
    keyType: info.keyType === "RSA" || info.keyType === "EC" ? info.keyType : null,
    bits: info.keySize,
    curve: info.curve ?? null,
    subject: info.subject,
    spkiFingerprint: info.spkiFingerprint,
    uri: formatPkcs11Uri({ token: t.label, serial: t.serial, object: label, id, type: "cert" }),
  };
}

function keyObjects(
  m: LoadedModule,
  session: Handle,
  t: TokenView,
  cls: number,
  type: "private" | "public",
): ListedObject[] {
  return findObjects(m, session, [{ type: CK.CKA_CLASS, value: cls }]).flatMap((h) => {
    const k = keyInfo(m, session, t, h, type);
    if (k === null) return [];
    const entry: ListedObject = {
      kind: type === "private" ? "private-key" : "public-key",
      label: k.label,
      id: hexId(k.id),
      keyType: k.keyType,
      bits: k.bits,
      curve: k.curve,
      subject: null,
      spkiFingerprint: k.spkiFingerprint,
      uri: k.uri,
    };
    return [entry];
  });
}

/** One token's objects: private keys (when logged in), else their public keys; certificates. */
function tokenObjects(m: LoadedModule, session: Handle, t: TokenView): ListedObject[] {
  const privateKeys = keyObjects(m, session, t, CK.CKO_PRIVATE_KEY, "private");
  const publicKeys = keyObjects(m, session, t, CK.CKO_PUBLIC_KEY, "public").filter(
    (p) => !privateKeys.some((k) => k.id === p.id),
  );
  const certificates = findObjects(m, session, [
    { type: CK.CKA_CLASS, value: CK.CKO_CERTIFICATE },
  ]).flatMap((h) => certificateObject(m, session, t, h) ?? []);
  const order = (a: ListedObject, b: ListedObject) =>
    a.id.localeCompare(b.id) || a.label.localeCompare(b.label);
  return [...privateKeys, ...publicKeys, ...certificates].sort(
    (a, b) => order(a, b) || KIND_ORDER[a.kind] - KIND_ORDER[b.kind],
  );
}

const KIND_ORDER = { "private-key": 0, "public-key": 1, certificate: 2 } as const;

function listToken(m: LoadedModule, t: TokenView, pin: string | undefined): ListedToken {
  const session = m.lib.C_OpenSession(t.slot, CK.CKF_SERIAL_SESSION);
  try {
    if (pin !== undefined) login(m, session, t, pin);
    return {
      label: t.label,
      serial: t.serial,
      manufacturer: t.info.manufacturerID.trimEnd(),
      model: t.info.model.trimEnd(),
      slotId: t.slotId.toString(),
      slotDescription: t.slotInfo.slotDescription.trimEnd(),
      loggedIn: pin !== undefined,
      objects: tokenObjects(m, session, t),
    };
  } finally {
    m.lib.C_CloseSession(session);
  }
}

/**
 * Lists the tokens of a module (those `uri` selects, if given) and what they hold. With a PIN
 * (the caller's, or the URI's pin-source/pin-value) it logs in, so private keys show too; a PIN
 * is for one token, so with several selected it throws rather than try it on each.
 */
export async function listTokens(options: TokenOptions & { uri?: string }): Promise<Listing> {
  const uri: Pkcs11Uri = options.uri === undefined ? { unknown: [] } : parsePkcs11Uri(options.uri);
  refuseUnknown(uri);
  const { pin, warnings } = pinFor(uri, options);
  const m = await acquireModule(modulePath(uri, options), options.importer);
  try {
    const selected = tokensOf(m).filter((t) => tokenMatches(uri, t, m.info));
    // A URI that selects nothing gets the error that lists the tokens there are.
    if (options.uri !== undefined && selected.length === 0)
      findToken(m, uri, shownPkcs11Uri(options.uri));
    if (pin !== undefined && selected.length > 1) {
      throw new TrailsealError(
        "USAGE",
        `a pin is for one token, and module ${m.path} has ${selected.length}; name the token with a pkcs11 uri (pkcs11:token=LABEL)`,
      );
    }
    const v = m.info.libraryVersion;
    return {
      module: {
        path: m.path,
        manufacturer: m.info.manufacturerID.trimEnd(),
        description: m.info.libraryDescription.trimEnd(),
        version: `${v.major}.${v.minor}`,
      },
      tokens: selected.map((t) => listToken(m, t, pin)),
      warnings,
    };
  } finally {
    releaseModule(m);
  }
}
