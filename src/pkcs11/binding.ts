/**
 * The PKCS#11 binding (`pkcs11js`, a native addon) is an optional dependency: it is imported only
 * when a key is named by a PKCS#11 URI, so an install where it could not be built runs every
 * other command. The few calls trailseal makes are typed here, so that no type of the binding
 * appears elsewhere and the project compiles without it.
 */
import { TrailsealError } from "../errors.js";

/** A CK_SLOT_ID, CK_SESSION_HANDLE or CK_OBJECT_HANDLE as the binding passes it (CK_ULONG bytes). */
export type Handle = Buffer;

export interface Attribute {
  type: number;
  value?: number | boolean | string | Buffer;
}

export interface Mechanism {
  mechanism: number;
  parameter?: Buffer | { type: number; [field: string]: unknown };
}

export interface TokenInfo {
  label: string;
  manufacturerID: string;
  model: string;
  serialNumber: string;
  flags: number;
}

export interface SlotInfo {
  slotDescription: string;
  manufacturerID: string;
  flags: number;
}

export interface ModuleInfo {
  manufacturerID: string;
  libraryDescription: string;
  libraryVersion: { major: number; minor: number };
}

/** The Cryptoki calls trailseal makes (PKCS#11 v2.40 §5). */
export interface Cryptoki {
  load(path: string): void;
  close(): void;
  C_Initialize(): void;
  C_Finalize(): void;
  C_GetInfo(): ModuleInfo;
  C_GetSlotList(tokenPresent: boolean): Handle[];
  C_GetSlotInfo(slot: Handle): SlotInfo;
  C_GetTokenInfo(slot: Handle): TokenInfo;
  C_GetMechanismList(slot: Handle): number[];
  C_OpenSession(slot: Handle, flags: number): Handle;
  C_CloseSession(session: Handle): void;
  C_Login(session: Handle, userType: number, pin?: string): void;
  C_FindObjectsInit(session: Handle, template: Attribute[]): void;
  C_FindObjects(session: Handle, max: number): Handle[];
  C_FindObjectsFinal(session: Handle): void;
  C_GetAttributeValue(session: Handle, object: Handle, template: Attribute[]): Attribute[];
  C_DestroyObject(session: Handle, object: Handle): void;
  C_DecryptInit(session: Handle, mechanism: Mechanism, key: Handle): void;
  C_Decrypt(session: Handle, input: Buffer, output: Buffer): Buffer;
  C_SignInit(session: Handle, mechanism: Mechanism, key: Handle): void;
  C_Sign(session: Handle, input: Buffer, output: Buffer): Buffer;
  C_DeriveKey(session: Handle, mechanism: Mechanism, key: Handle, template: Attribute[]): Handle;
}

/** What trailseal takes from the loaded binding. */
export interface Binding {
  PKCS11: new () => Cryptoki;
  /** pkcs11js's own tags for structured mechanism parameters (not PKCS#11 constants). */
  CK_PARAMS_RSA_OAEP: number;
  CK_PARAMS_RSA_PSS: number;
  CK_PARAMS_EC_DH: number;
}

/** Imports the binding; tests pass an importer that fails. */
export type Importer = () => Promise<unknown>;

// A specifier in a variable: the compiler and the bundler leave the optional addon alone.
const PACKAGE = "pkcs11js";
const defaultImporter: Importer = () => import(PACKAGE) as Promise<unknown>;

/**
 * Loads pkcs11js. Throws PKCS11_UNAVAILABLE saying why (not installed: the optional native part
 * was not built; or installed but its addon does not load).
 */
export async function loadBinding(importer: Importer = defaultImporter): Promise<Binding> {
  let mod: unknown;
  try {
    mod = await importer();
  } catch (e) {
    const code = (e as { code?: string }).code;
    const first = String((e as Error).message ?? e).split("\n")[0];
    throw new TrailsealError(
      "PKCS11_UNAVAILABLE",
      code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND"
        ? "pkcs11 support is not installed: the optional package pkcs11js is missing (its native addon is left out where it cannot be built)"
        : `pkcs11 support is installed but does not load: pkcs11js failed with: ${first}`,
      {
        cause: e,
        hint: "reinstall trailseal where node-gyp can build native addons (python3, make and a C++ compiler)",
      },
    );
  }
  // A CommonJS module imported from ESM: its exports are the default export.
  const binding = ((mod as { default?: unknown }).default ?? mod) as Partial<Binding>;
  if (typeof binding.PKCS11 !== "function") {
    throw new TrailsealError(
      "PKCS11_UNAVAILABLE",
      "pkcs11 support does not load: the pkcs11js package has no PKCS11 class",
    );
  }
  return binding as Binding;
}

/** PKCS#11 v2.40 constants trailseal uses (pkcs11t.h). */
export const CK = {
  CKF_RW_SESSION: 0x2,
  CKF_SERIAL_SESSION: 0x4,
  CKU_USER: 1,
  CKO_CERTIFICATE: 1,
  CKO_PUBLIC_KEY: 2,
  CKO_PRIVATE_KEY: 3,
  CKO_SECRET_KEY: 4,
  CKA_CLASS: 0x0,
  CKA_TOKEN: 0x1,
  CKA_LABEL: 0x3,
  CKA_VALUE: 0x11,
  CKA_KEY_TYPE: 0x100,
  CKA_ID: 0x102,
  CKA_SENSITIVE: 0x103,
  CKA_MODULUS: 0x120,
  CKA_PUBLIC_EXPONENT: 0x122,
  CKA_VALUE_LEN: 0x161,
  CKA_EXTRACTABLE: 0x162,
  CKA_EC_PARAMS: 0x180,
  CKA_EC_POINT: 0x181,
  CKK_RSA: 0x0,
  CKK_EC: 0x3,
  CKK_GENERIC_SECRET: 0x10,
  CKM_RSA_PKCS: 0x1,
  CKM_RSA_X_509: 0x3,
  CKM_RSA_PKCS_OAEP: 0x9,
  CKM_RSA_PKCS_PSS: 0xd,
  CKM_SHA256_RSA_PKCS: 0x40,
  CKM_SHA384_RSA_PKCS: 0x41,
  CKM_SHA512_RSA_PKCS: 0x42,
  CKM_SHA256_RSA_PKCS_PSS: 0x43,
  CKM_SHA384_RSA_PKCS_PSS: 0x44,
  CKM_SHA512_RSA_PKCS_PSS: 0x45,
  CKM_SHA_1: 0x220,
  CKM_SHA256: 0x250,
  CKM_SHA384: 0x260,
  CKM_SHA512: 0x270,
  CKM_ECDSA: 0x1041,
  CKM_ECDH1_DERIVE: 0x1050,
  CKG_MGF1_SHA1: 0x1,
  CKG_MGF1_SHA256: 0x2,
  CKG_MGF1_SHA384: 0x3,
  CKG_MGF1_SHA512: 0x4,
  CKD_NULL: 0x1,
  CKZ_DATA_SPECIFIED: 0x1,
  CKF_LOGIN_REQUIRED: 0x4,
  CKF_PROTECTED_AUTHENTICATION_PATH: 0x100,
  CKF_TOKEN_INITIALIZED: 0x400,
  CKF_USER_PIN_COUNT_LOW: 0x10000,
  CKF_USER_PIN_FINAL_TRY: 0x20000,
  CKF_USER_PIN_LOCKED: 0x40000,
} as const;

/** Mechanism names for messages ("it offers …"), from the constants above and the binding's. */
export function mechanismName(type: number, binding?: Binding): string {
  for (const [name, value] of Object.entries(CK)) {
    if (name.startsWith("CKM_") && value === type) return name;
  }
  if (binding !== undefined) {
    for (const [name, value] of Object.entries(binding)) {
      if (name.startsWith("CKM_") && value === type) return name;
    }
  }
  return `0x${type.toString(16)}`;
}

/** The CKR_… name of a binding error (pkcs11js puts it in the message), or null. */
export function ckrOf(e: unknown): string | null {
  const message = e instanceof Error ? e.message : "";
  return /^CKR_[A-Z0-9_]+$/.test(message) ? message : null;
}
