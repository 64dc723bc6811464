// Breakpoints in the local Lambda: the server starts a debug invocation under debugpy and sends
// `lambdaLs/debugReady`; this attaches VS Code's debugger to that endpoint. debugpy speaks the
// Debug Adapter Protocol itself, so the adapter is the endpoint (no Python extension needed).
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

/** The attach configuration for a debug invocation: debugpy's own `attach` arguments. */
export function attachConfiguration(ready: DebugReady): vscode.DebugConfiguration {
  return {
    type: DEBUG_TYPE,
    request: "attach",
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
