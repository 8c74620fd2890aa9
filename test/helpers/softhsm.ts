/**
 * SoftHSM2 tokens for tests: each call makes its own token directory and SOFTHSM2_CONF in a temp
 * dir (never the system's), initializes tokens with softhsm2-util and imports keys and
 * certificates with pkcs11-tool (Debian opensc), as an operator would.
 */
import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

function onPath(tool: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why SoftHSM tests cannot run here, or null when they can. */
export function softhsmMissing(): string | null {
  if (!existsSync(SOFTHSM_MODULE)) return `${SOFTHSM_MODULE} is missing (apt-get install softhsm2)`;
  if (!onPath("softhsm2-util")) return "softhsm2-util is missing (apt-get install softhsm2)";
  if (!onPath("pkcs11-tool")) return "pkcs11-tool is missing (apt-get install opensc)";
  try {
    execFileSync(process.execPath, ["-e", "require('pkcs11js')"], { stdio: "ignore" });
  } catch {
    return "the optional package pkcs11js is not built";
  }
  return null;
}

export interface Hsm {
  readonly dir: string;
  readonly conf: string;
  /** Writes another config over the same tokens (e.g. with mechanisms disabled) and returns it. */
  config(extra: string): string;
  /** Makes SOFTHSM2_CONF point at `conf` for this process (SoftHSM reads it at C_Initialize). */
  use(conf?: string): void;
  initToken(label: string, pin: string, soPin: string): void;
  /** Imports a PEM private key (and its public key, and a certificate) under `id` and `label`. */
  importKey(token: string, pin: string, o: ImportOptions): void;
  /** A new token `label` (SO PIN `label-so`) holding one key, its PIN in `dir/label.pin`. */
  tokenWithKey(label: string, pin: string, o: ImportOptions): void;
  /** The DER of the certificate with `id` on `token`, read back as an auditor would export it. */
  readCert(token: string, id: string): Uint8Array;
  remove(): void;
}

/** The notice trailseal gives where SoftHSM refuses OAEP with SHA-256 (all of SoftHSM 2.6). */
export const oaepFallbackNotice = (token: string): string =>
  `trailseal: notice: token "${token}" does not do CKM_RSA_PKCS_OAEP with SHA-256; trailseal decrypts with CKM_RSA_X_509 on the token and checks the OAEP padding in memory\n`;

export interface ImportOptions {
  keyPem: string;
  certPem?: string;
  id: string;
  label: string;
  /** Import the public key object too (default true). */
  publicKey?: boolean;
}

function config(dir: string, name: string, extra: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n${extra}`,
  );
  return path;
}

export function makeHsm(): Hsm {
  const dir = mkdtempSync(join(tmpdir(), "softhsm-"));
  mkdirSync(join(dir, "tokens"));
  const conf = config(dir, "softhsm2.conf", "");
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const tool = (args: string[]) =>
    execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, ...args], { env, stdio: "pipe" });
  let n = 0;
  return {
    dir,
    conf,
    config: (extra) => config(dir, `softhsm2-${++n}.conf`, extra),
    use(c = conf) {
      process.env["SOFTHSM2_CONF"] = c;
    },
    initToken(label, pin, soPin) {
      execFileSync(
        "softhsm2-util",
        ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPin],
        { env, stdio: "pipe" },
      );
    },
    importKey(token, pin, o) {
      const der = (args: string[], input: string) =>
        execFileSync("openssl", args, { input, stdio: ["pipe", "pipe", "pipe"] });
      const write = (type: string, bytes: Buffer, extra: string[] = []) => {
        const file = join(dir, `${token}-${o.id}-${type}.der`);
        writeFileSync(file, bytes);
        tool(
          [
            "--token-label",
            token,
            "--login",
            "--pin",
            pin,
            "--write-object",
            file,
            "--type",
            type,
          ].concat(["--id", o.id, "--label", o.label], extra),
        );
      };
      const keyDer = der(["pkey", "-outform", "DER"], o.keyPem);
      // pkcs11-tool leaves CKA_DERIVE off unless asked; an EC key must derive to do ECDH.
      const ec = createPrivateKey(o.keyPem).asymmetricKeyType === "ec";
      write("privkey", keyDer, ec ? ["--usage-derive", "--usage-sign"] : []);
      if (o.publicKey !== false)
        write("pubkey", der(["pkey", "-pubout", "-outform", "DER"], o.keyPem));
      if (o.certPem !== undefined) write("cert", der(["x509", "-outform", "DER"], o.certPem));
    },
    tokenWithKey(label, pin, o) {
      this.initToken(label, pin, `${label}-so`);
      this.importKey(label, pin, o);
      writeFileSync(join(dir, `${label}.pin`), `${pin}\n`);
    },
    readCert(token, id) {
      const file = join(dir, `${token}-${id}-read.der`);
      tool(
        ["--token-label", token, "--read-object", "--type", "cert", "--id", id].concat([
          "--output-file",
          file,
        ]),
      );
      return new Uint8Array(readFileSync(file));
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
