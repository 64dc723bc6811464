// Breakpoints in the local Lambda: the server starts a debug invocation under debugpy and sends
// `lambdaLs/debugReady`; this attaches VS Code's debugger to that endpoint. debugpy speaks the
// Debug Adapter Protocol itself, so the adapter is the endpoint (no Python extension needed).
//
// VS Code shows Stop (which ends the debuggee) only for a `launch` configuration; for `attach`
// it shows Disconnect. A debug invocation is lambda-ls's own program, so the configuration is a
// `launch` and `LaunchAsAttach` relays it to debugpy as the `attach` debugpy understands: Stop
// then ends the invocation, and Disconnect in the Stop button's menu only detaches.
import * as net from "net";
import type * as vscode from "vscode";

/** The debug type this extension contributes (package.json `contributes.debuggers`). */
export const DEBUG_TYPE = "lambda-ls";

/** A debugpy path mapping: workspace folder ↔ the same files in the local Lambda's unpacked copy. */
export interface PathMapping {
  localRoot: string;
  remoteRoot: string;
}

/** `lambdaLs/debugReady`'s parameters. */
export interface DebugReady {
  name: string;
  host: string;
  port: number;
  pathMappings: PathMapping[];
  attachWaitMs: number;
}

/** The configuration for a debug invocation: debugpy's own `attach` arguments, as a `launch`. */
export function attachConfiguration(ready: DebugReady): vscode.DebugConfiguration {
  return {
    type: DEBUG_TYPE,
    request: "launch",
    name: `Lambda: ${ready.name} (local)`,
    connect: { host: ready.host, port: ready.port },
    pathMappings: ready.pathMappings,
    justMyCode: true,
  };
}

/** Where the adapter listens, from a configuration (ours, or one a user wrote in launch.json). */
export function adapterEndpoint(config: vscode.DebugConfiguration): { host: string; port: number } {
  const connect = (config.connect ?? {}) as { host?: unknown; port?: unknown };
  const port = Number(connect.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(
      `a ${DEBUG_TYPE} debug configuration needs "connect": {"port": N}: the port lambda-ls printed for the debug invocation`,
    );
  }
  const host = typeof connect.host === "string" && connect.host ? connect.host : "127.0.0.1";
  return { host, port };
}

/** A Debug Adapter Protocol message, as far as the relay reads it. */
interface DapMessage {
  type?: string;
  command?: string;
  event?: string;
  seq?: number;
  request_seq?: number;
  [key: string]: unknown;
}

/** Splits a byte stream into Content-Length framed messages. */
export class DapFrames {
  private buffer = Buffer.alloc(0);

  /** The complete messages `chunk` finishes; the rest waits for the next chunk. */
  push(chunk: Buffer): DapMessage[] {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    const messages: DapMessage[] = [];
    for (;;) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) return messages;
      const length = /Content-Length: *(\d+)/i.exec(this.buffer.subarray(0, end).toString("ascii"));
      if (!length) throw new Error("a DAP message without Content-Length");
      const start = end + 4;
      const stop = start + Number(length[1]);
      if (this.buffer.length < stop) return messages;
      messages.push(JSON.parse(this.buffer.subarray(start, stop).toString("utf8")) as DapMessage);
      this.buffer = this.buffer.subarray(stop);
    }
  }
}

export function dapFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, "ascii"), body]);
}

/** Requests whose aim a closed endpoint meets: answered as done, not as failed. */
const ENDING = new Set(["disconnect", "terminate"]);

/**
 * The debug adapter of a `lambda-ls` session: debugpy's endpoint, with the client's `launch`
 * request sent as `attach` (and its response named `launch` again). Everything else passes as is.
 */
export class LaunchAsAttach implements vscode.DebugAdapter {
  private readonly listeners = new Set<(m: vscode.DebugProtocolMessage) => void>();
  /** Requests sent and not answered yet: seq → the command as VS Code named it. */
  private readonly pending = new Map<number, string>();
  private readonly frames = new DapFrames();
  private failure = "";
  private closed = false;
  private ended = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly where: string,
  ) {
    socket.on("data", (chunk: Buffer) => {
      for (const m of this.frames.push(chunk)) this.fromAdapter(m);
    });
    socket.on("error", (e) => {
      this.failure ||= e.message;
      socket.destroy();
    });
    socket.on("close", () => this.close());
  }

  static connect(host: string, port: number): LaunchAsAttach {
    return new LaunchAsAttach(net.connect(port, host), `${host}:${port}`);
  }

  readonly onDidSendMessage: vscode.Event<vscode.DebugProtocolMessage> = (listener, thisArg) => {
    const bound = (m: vscode.DebugProtocolMessage) => listener.call(thisArg, m);
    this.listeners.add(bound);
    return { dispose: () => this.listeners.delete(bound) };
  };

  handleMessage(message: vscode.DebugProtocolMessage): void {
    const m = message as DapMessage;
    const request = m.type === "request" && typeof m.seq === "number";
    if (request) this.pending.set(m.seq as number, m.command ?? "");
    if (this.closed) return this.close();
    this.socket.write(dapFrame(request && m.command === "launch" ? { ...m, command: "attach" } : m));
  }

  dispose(): void {
    this.socket.destroy();
  }

  private fromAdapter(m: DapMessage): void {
    if (m.type === "response" && typeof m.request_seq === "number") {
      const command = this.pending.get(m.request_seq);
      this.pending.delete(m.request_seq);
      if (command === "launch") m = { ...m, command };
    }
    if (m.type === "event" && m.event === "terminated") this.ended = true;
    this.emit(m);
  }

  /** The endpoint closed: what it left unanswered is answered here, and the session is over. */
  private close(): void {
    this.closed = true;
    const message = this.failure
      ? `cannot reach debugpy at ${this.where}: ${this.failure}`
      : `debugpy at ${this.where} closed the connection`;
    for (const [seq, command] of this.pending) {
      const success = ENDING.has(command);
      this.emit({ type: "response", seq: 0, request_seq: seq, command, success, ...(success ? {} : { message }) });
    }
    this.pending.clear();
    if (this.ended) return;
    this.ended = true;
    this.emit({ type: "event", event: "terminated", seq: 0 });
  }

  private emit(m: DapMessage): void {
    for (const listener of this.listeners) listener(m as vscode.DebugProtocolMessage);
  }
}
