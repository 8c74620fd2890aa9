import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolvePassin } from "../src/secret.js";

const dir = mkdtempSync(join(tmpdir(), "trailseal-secret-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The error resolvePassin throws, or undefined when it returns. */
function failure(spec: string, env: Record<string, string> = {}) {
  try {
    resolvePassin(spec, env, dir);
    return undefined;
  } catch (e) {
    return e as { name: string; code: string; message: string; hint?: string };
  }
}

describe("resolvePassin", () => {
  it("env:VAR, file:PATH (first line, LF or CRLF, relative to cwd), pass:TEXT", () => {
    expect(resolvePassin("env:P", { P: "s3cret:with:colons" })).toBe("s3cret:with:colons");
    writeFileSync(join(dir, "lf"), "first line\nsecond\n");
    writeFileSync(join(dir, "crlf"), "first line\r\nsecond\r\n");
    writeFileSync(join(dir, "empty"), "");
    expect(resolvePassin("file:lf", {}, dir)).toBe("first line");
    expect(resolvePassin(`file:${join(dir, "crlf")}`, {})).toBe("first line");
    expect(resolvePassin("file:empty", {}, dir)).toBe("");
    expect(resolvePassin("pass:a b:c", {})).toBe("a b:c");
  });

  it("reads a passphrase file only up to its first line, never to the end of a device", () => {
    writeFileSync(join(dir, "long"), `pw\n${"x".repeat(1 << 20)}`);
    expect(resolvePassin("file:long", {}, dir)).toBe("pw");
    expect(failure("file:/dev/zero")).toMatchObject({
      code: "PASSIN_INVALID",
      message:
        "passphrase file /dev/zero: no line end in its first 65536 bytes; is it the right file?",
    });
    writeFileSync(join(dir, "one-line"), "p".repeat(65535));
    expect(resolvePassin("file:one-line", {}, dir)).toBe("p".repeat(65535));
  });

  it("an unset variable is named, with what to do", () => {
    expect(failure("env:P12_PASS")).toMatchObject({
      name: "TrailsealError",
      code: "PASSIN_INVALID",
      message: "environment variable P12_PASS is not set",
      hint: "export P12_PASS=… before running, or read the secret from a file (file:PATH)",
      details: { missing: "environment-variable", variable: "P12_PASS" },
    });
  });

  it("an empty variable or file name is refused as such", () => {
    expect(failure("env:")).toMatchObject({
      code: "PASSIN_INVALID",
      message: "secret source env: needs the name of an environment variable (env:VAR)",
    });
    expect(failure("file:")).toMatchObject({
      code: "PASSIN_INVALID",
      message: "secret source file: needs the path of a file (file:PATH)",
    });
  });

  it("an unreadable file is named", () => {
    expect(failure("file:missing")).toMatchObject({
      code: "PASSIN_INVALID",
      message: "cannot read passphrase file missing: no such file",
    });
    expect(failure("file:.")).toMatchObject({
      code: "PASSIN_INVALID",
      message: "cannot read passphrase file .: it is a directory",
    });
  });

  it("a source without a scheme is refused without echoing it (it may be the secret itself)", () => {
    const e = failure("hunter2");
    expect(e).toMatchObject({
      code: "PASSIN_INVALID",
      message: "passphrase source must be env:VAR, file:PATH or pass:TEXT",
    });
    expect(JSON.stringify(e)).not.toContain("hunter2");
    expect(e!.message).not.toContain("hunter2");
    expect(failure("stdin:x")!.message).not.toContain("stdin:x");
  });
});
