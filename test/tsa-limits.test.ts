import { connect, type Socket } from "node:net";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { startTsaServer } from "../src/timestamp/server.js";
import { tsaFixture } from "./helpers/tsa.js";

describe("tsa serve limits", () => {
  it("serves at most maxConnections connections at once; the next is closed at once", async () => {
    let serial = 1n;
    const server = await startTsaServer({
      tsa: tsaFixture("tsa"),
      policyOid: "1.3.6.1.4.1.32473.3161.1",
      host: "127.0.0.1",
      port: 0,
      clock: () => new Date(),
      serial: () => serial++,
      maxConnections: 2,
    });
    const { port } = new URL(server.url);
    const open = async (): Promise<Socket> => {
      const s = connect(Number(port), "127.0.0.1");
      await once(s, "connect");
      return s;
    };
    try {
      const a = await open();
      const b = await open();
      const c = await open();
      // The third connection is dropped by the server without a byte.
      const [closedEarly] = await Promise.race([
        once(c, "close").then(() => [true]),
        new Promise<boolean[]>((r) => setTimeout(() => r([false]), 2000)),
      ]);
      expect(closedEarly).toBe(true);
      expect(a.destroyed || b.destroyed).toBe(false);
      a.destroy();
      b.destroy();
    } finally {
      await server.close();
    }
  });
});
