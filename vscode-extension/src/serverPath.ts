// Which `lambda-ls` binary to start. No `vscode` import.
import * as path from "node:path";

export type ServerPath =
  | { path: string; source: "setting" | "bundled" | "PATH" }
  | { error: string };

export interface ResolveOptions {
  /** `lambdaLs.server.path`. */
  setting: string | undefined;
  extensionPath: string;
  platform: NodeJS.Platform;
  workspaceFolder?: string;
  home: string;
  /** The `PATH` environment variable. */
  envPath?: string;
  isExecutable: (p: string) => boolean;
}

export function binaryName(platform: NodeJS.Platform): string {
  return platform === "win32" ? "lambda-ls.exe" : "lambda-ls";
}

/** The bundled binary: `server/lambda-ls` inside the extension. */
export function bundledPath(extensionPath: string, platform: NodeJS.Platform): string {
  return path.join(extensionPath, "server", binaryName(platform));
}

/** `~`, `${userHome}` and `${workspaceFolder}` expanded; relative paths from the workspace folder. */
export function expandSetting(value: string, home: string, workspaceFolder?: string): string {
  let v = value.trim();
  v = v.replace(/\$\{userHome\}/g, home);
  if (workspaceFolder) v = v.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  if (v === "~") v = home;
  else if (v.startsWith("~/") || v.startsWith("~\\")) v = path.join(home, v.slice(2));
  if (!path.isAbsolute(v) && workspaceFolder && (v.includes("/") || v.includes("\\"))) {
    v = path.join(workspaceFolder, v);
  }
  return v;
}

/** The setting, else the bundled binary, else `lambda-ls` on `PATH`. */
export function resolveServerPath(o: ResolveOptions): ServerPath {
  const name = binaryName(o.platform);
  if (o.setting && o.setting.trim()) {
    const p = expandSetting(o.setting, o.home, o.workspaceFolder);
    if (!path.isAbsolute(p) && !p.includes("/") && !p.includes("\\")) {
      // A bare command name: look it up on PATH.
      const found = onPath(p, o);
      if (found) return { path: found, source: "setting" };
      return { error: `lambdaLs.server.path is "${o.setting}", which is not a command on PATH` };
    }
    if (o.isExecutable(p)) return { path: p, source: "setting" };
    return { error: `lambdaLs.server.path is "${o.setting}", but ${p} is not an executable file` };
  }
  const bundled = bundledPath(o.extensionPath, o.platform);
  if (o.isExecutable(bundled)) return { path: bundled, source: "bundled" };
  const found = onPath(name, o);
  if (found) return { path: found, source: "PATH" };
  return {
    error: `this build of the extension has no bundled lambda-ls server for ${o.platform}, and lambda-ls is not on PATH; set lambdaLs.server.path to the lambda-ls binary`,
  };
}

function onPath(command: string, o: ResolveOptions): string | undefined {
  const sep = o.platform === "win32" ? ";" : ":";
  const exts = o.platform === "win32" && !command.toLowerCase().endsWith(".exe") ? [".exe", ""] : [""];
  for (const dir of (o.envPath ?? "").split(sep)) {
    if (!dir) continue;
    for (const ext of exts) {
      const p = path.join(dir, command + ext);
      if (o.isExecutable(p)) return p;
    }
  }
  return undefined;
}
