/**
 * The local authority's default home when the environment has none: no HOME (or an empty one)
 * and a uid without a password-database entry, as in a container run with an arbitrary --user.
 */
import { describe, expect, it, vi } from "vitest";

// No user record at all: os.userInfo() throws as it does for a uid missing from /etc/passwd.
vi.mock("node:os", async (importOriginal) => ({
  ...(await importOriginal<typeof import("node:os")>()),
  userInfo: () => {
    throw Object.assign(new Error("uv_os_get_passwd returned ENOENT"), { code: "ENOENT" });
  },
}));

const { defaultHome } = await import("../src/authority.js");
const { runCli } = await import("./helpers/io.js");

describe("the local authority's home with no HOME and no user record", () => {
  it("is refused with USAGE and a hint, never a path relative to the working directory", () => {
    for (const env of [{}, { HOME: "" }, { HOME: "", TRAILSEAL_HOME: "" }]) {
      expect(() => defaultHome(env, "/cwd")).toThrow(
        expect.objectContaining({
          code: "USAGE",
          message:
            "cannot find the local authority: neither TRAILSEAL_HOME nor HOME is set, and the user has no home directory",
          details: { missing: "authority-home" },
        }),
      );
    }
  });

  it("still takes --home, TRAILSEAL_HOME or HOME when given", () => {
    expect(defaultHome({}, "/cwd", "a")).toBe("/cwd/a");
    expect(defaultHome({ TRAILSEAL_HOME: "t" }, "/cwd")).toBe("/cwd/t");
    expect(defaultHome({ HOME: "/h" }, "/cwd")).toBe("/h/.trailseal");
  });

  it("trailseal init says so (exit 2), writing nothing", async () => {
    const r = await runCli(["init", "--key-type", "ec"], { env: {}, cwd: "/nonexistent" });
    expect(r).toMatchObject({
      code: 2,
      stdout: "",
      stderr:
        "trailseal: error: cannot find the local authority: neither TRAILSEAL_HOME nor HOME is set, and the user has no home directory\n" +
        "trailseal: hint: give --home DIR or set TRAILSEAL_HOME\n",
    });
  });
});
