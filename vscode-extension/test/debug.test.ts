import { describe, expect, it } from "vitest";
import { DEBUG_TYPE, adapterEndpoint, attachConfiguration } from "../src/debug";

const ready = {
  name: "handler-handler",
  host: "127.0.0.1",
  port: 41234,
  pathMappings: [{ localRoot: "/work/proj", remoteRoot: "/data/local/unpacked/abc" }],
  attachWaitMs: 60000,
};

describe("attaching to a debug invocation", () => {
  it("attaches with debugpy's own arguments: the endpoint and the path mapping", () => {
    const config = attachConfiguration(ready);
    expect(config).toEqual({
      type: DEBUG_TYPE,
      request: "attach",
      name: "Lambda: handler-handler (local)",
      connect: { host: "127.0.0.1", port: 41234 },
      pathMappings: [{ localRoot: "/work/proj", remoteRoot: "/data/local/unpacked/abc" }],
      justMyCode: true,
    });
    expect(adapterEndpoint(config)).toEqual({ host: "127.0.0.1", port: 41234 });
  });

  it("takes a hand-written configuration's port and defaults the host to loopback", () => {
    expect(adapterEndpoint({ type: DEBUG_TYPE, request: "attach", name: "x", connect: { port: "5678" } })).toEqual({
      host: "127.0.0.1",
      port: 5678,
    });
  });

  it("refuses a configuration without a usable port, in one sentence", () => {
    for (const connect of [undefined, {}, { port: 0 }, { port: 70000 }, { port: "x" }]) {
      expect(() => adapterEndpoint({ type: DEBUG_TYPE, request: "attach", name: "x", connect })).toThrow(
        /needs "connect": \{"port": N\}/,
      );
    }
  });
});
