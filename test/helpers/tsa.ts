/** Fixtures and helpers for the timestamping tests (testdata/pki and testdata/tsa). */
import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { copyFileSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..", "testdata");

export function pkiPath(name: string): string {
  return join(
    ROOT,
    name.startsWith("tsa-ec") || name.startsWith("foreign-tsa") ? "tsa" : "pki",
    name,
  );
}

export function certDer(name: string): Uint8Array {
  return new Uint8Array(new X509Certificate(readFileSync(pkiPath(`${name}.pem`))).raw);
}

export function privateKey(name: string): KeyObject {
  return createPrivateKey(readFileSync(pkiPath(`${name}.key`)));
}

/** A TSA identity from a fixture name (e.g. "tsa", "tsa-ec"). */
export function tsaFixture(name: string): { chain: Uint8Array[]; key: KeyObject } {
  return { chain: [certDer(name)], key: privateKey(name) };
}

export function sha256(data: string | Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

export const ROOT_CA = (): Uint8Array => certDer("root-ca");
export const FOREIGN_ROOT_CA = (): Uint8Array => certDer("foreign-root-ca");

/**
 * A path for openssl's -untrusted, which splits its argument at whitespace into several files:
 * a copy of `path` in `dir` (openssl's working directory), named relative to it, so a checkout
 * under a path with a space works.
 */
export function untrustedCopy(dir: string, path: string): string {
  const name = `untrusted-${basename(path)}`;
  copyFileSync(path, join(dir, name));
  return name;
}

/**
 * An openssl runner working in `dir` (where untrustedCopy puts its copies): openssl's stdout as
 * text; a non-zero exit throws, with openssl's stderr in the message.
 */
export function opensslIn(dir: string): (args: readonly string[]) => string {
  return (args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" }).toString();
}
