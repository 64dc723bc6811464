import * as net from "net";
import { describe, expect, it } from "vitest";
import { DEBUG_TYPE, DapFrames, LaunchAsAttach, adapterEndpoint, attachConfiguration, dapFrame } from "../src/debug";

const ready = {
  name: "handler-handler",
  host: "127.0.0.1",
  port: 41234,
  pathMappings: [{ localRoot: "/work/proj", remoteRoot: "/data/local/unpacked/abc" }],
  attachWaitMs: 60000,
};

describe("attaching to a debug invocation", () => {
  it("launches (so VS Code shows Stop) with debugpy's own arguments: the endpoint and the path mapping", () => {
    const config = attachConfiguration(ready);
    expect(config).toEqual({
      type: DEBUG_TYPE,
      request: "launch",
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

/** A stand-in for debugpy's endpoint on loopback: records what it receives, answers each request. */
async function fakeDebugpy(): Promise<{ port: number; received: Record<string, unknown>[]; close: () => void }> {
  const received: Record<string, unknown>[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const frames = new DapFrames();
    socket.on("data", (chunk) => {
      for (const m of frames.push(chunk)) {
        received.push(m);
        socket.write(dapFrame({ seq: 100 + received.length, type: "response", request_seq: m.seq, command: m.command, success: true }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, received, close: () => { for (const s of sockets) s.end(); server.close(); } };
}

describe("the relay between VS Code and debugpy", () => {
  it("sends VS Code's launch as debugpy's attach and names the answer launch again", async () => {
    const debugpy = await fakeDebugpy();
    const relay = LaunchAsAttach.connect("127.0.0.1", debugpy.port);
    const seen: Record<string, unknown>[] = [];
    relay.onDidSendMessage((m) => seen.push(m as Record<string, unknown>));
    relay.handleMessage({ seq: 1, type: "request", command: "initialize", arguments: {} });
    relay.handleMessage({ seq: 2, type: "request", command: "launch", arguments: { connect: { port: 1 } } });
    relay.handleMessage({ seq: 3, type: "request", command: "terminate", arguments: {} });
    await expect.poll(() => seen.length).toBe(3);
    expect(debugpy.received.map((m) => m.command)).toEqual(["initialize", "attach", "terminate"]);
    expect(debugpy.received[1].arguments).toEqual({ connect: { port: 1 } });
    expect(seen.map((m) => [m.request_seq, m.command])).toEqual([[1, "initialize"], [2, "launch"], [3, "terminate"]]);
    // debugpy going away ends the session in VS Code.
    debugpy.close();
    await expect.poll(() => seen.at(-1)?.event).toBe("terminated");
    relay.dispose();
  });

  it("answers what debugpy cannot: a request fails with the reason, a disconnect is done, the session ends", async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const relay = LaunchAsAttach.connect("127.0.0.1", closed);
    const seen: Record<string, unknown>[] = [];
    relay.onDidSendMessage((m) => seen.push(m as Record<string, unknown>));
    relay.handleMessage({ seq: 1, type: "request", command: "initialize", arguments: {} });
    await expect.poll(() => seen.length).toBe(2);
    expect(seen[0]).toMatchObject({ type: "response", request_seq: 1, command: "initialize", success: false });
    expect(seen[0].message).toMatch(new RegExp(`^cannot reach debugpy at 127.0.0.1:${closed}: .*ECONNREFUSED`));
    expect(seen[1]).toMatchObject({ type: "event", event: "terminated" });
    relay.handleMessage({ seq: 2, type: "request", command: "disconnect", arguments: {} });
    expect(seen[2]).toMatchObject({ type: "response", request_seq: 2, command: "disconnect", success: true });
    expect(seen.length).toBe(3);
  });

  it("reassembles messages split across and packed into chunks", () => {
    const frames = new DapFrames();
    const both = Buffer.concat([dapFrame({ seq: 1, text: "é" }), dapFrame({ seq: 2 })]);
    expect(frames.push(both.subarray(0, 10))).toEqual([]);
    expect(frames.push(both.subarray(10, both.length - 3))).toEqual([{ seq: 1, text: "é" }]);
    expect(frames.push(both.subarray(both.length - 3))).toEqual([{ seq: 2 }]);
  });
});
