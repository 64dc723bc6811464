import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { bundledPath, expandSetting, resolveServerPath } from "../src/serverPath";

const ext = path.resolve("/ext");
const home = path.resolve("/home/me");
const ws = path.resolve("/ws");

function resolve(setting: string | undefined, executables: string[], envPath = "") {
  const set = new Set(executables.map((p) => path.resolve(p)));
  return resolveServerPath({
    setting,
    extensionPath: ext,
    platform: "linux",
    workspaceFolder: ws,
    home,
    envPath,
    isExecutable: (p) => set.has(path.resolve(p)),
  });
}

describe("server path", () => {
  it("uses the setting first", () => {
    expect(resolve("/opt/lambda-ls", ["/opt/lambda-ls", bundledPath(ext, "linux")])).toEqual({
      path: path.resolve("/opt/lambda-ls"),
      source: "setting",
    });
  });

  it("expands ~, ${userHome} and ${workspaceFolder}, and reads relative paths from the workspace", () => {
    expect(expandSetting("~/bin/lambda-ls", home, ws)).toBe(path.join(home, "bin/lambda-ls"));
    expect(expandSetting("${userHome}/bin/lambda-ls", home, ws)).toBe(`${home}/bin/lambda-ls`);
    expect(expandSetting("${workspaceFolder}/target/debug/lambda-ls", home, ws)).toBe(`${ws}/target/debug/lambda-ls`);
    expect(expandSetting("target/debug/lambda-ls", home, ws)).toBe(path.join(ws, "target/debug/lambda-ls"));
  });

  it("looks a bare command name up on PATH", () => {
    expect(resolve("lambda-ls-dev", ["/usr/local/bin/lambda-ls-dev"], "/usr/bin:/usr/local/bin")).toEqual({
      path: path.join("/usr/local/bin", "lambda-ls-dev"),
      source: "setting",
    });
  });

  it("says clearly when the setting is wrong", () => {
    const r = resolve("/nope/lambda-ls", [bundledPath(ext, "linux")]);
    expect(r).toHaveProperty("error");
    expect("error" in r && r.error).toMatch(/lambdaLs\.server\.path is "\/nope\/lambda-ls"/);
  });

  it("uses the bundled binary without a setting", () => {
    expect(resolve("", [bundledPath(ext, "linux")])).toEqual({ path: path.join(ext, "server", "lambda-ls"), source: "bundled" });
    expect(resolve(undefined, [bundledPath(ext, "linux")])).toMatchObject({ source: "bundled" });
  });

  it("falls back to lambda-ls on PATH", () => {
    expect(resolve(undefined, ["/usr/bin/lambda-ls"], "/usr/bin")).toEqual({ path: path.join("/usr/bin", "lambda-ls"), source: "PATH" });
  });

  it("names the setting when nothing is found", () => {
    const r = resolve(undefined, [], "/usr/bin");
    expect("error" in r && r.error).toMatch(/set lambdaLs\.server\.path/);
  });

  it("uses .exe on Windows", () => {
    expect(bundledPath(ext, "win32")).toBe(path.join(ext, "server", "lambda-ls.exe"));
  });
});
