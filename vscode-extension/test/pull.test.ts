import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { functionPickItems, pullDir, pullSummary } from "../src/pull";

const root = path.resolve("/ws");

describe("open deployed function", () => {
  it("lists the target's functions with their runtime and handler", () => {
    const items = functionPickItems([
      { name: "orders", runtime: "python3.12", handler: "app.handler", last_modified: "2026-12-01T10:00:00Z" },
      { name: "bare" },
    ]);
    expect(items[0]).toEqual({
      label: "$(cloud) orders",
      description: "python3.12 · app.handler",
      detail: "last modified 2026-12-01T10:00:00Z",
      name: "orders",
    });
    expect(items[1]).toEqual({ label: "$(cloud) bare", description: undefined, detail: undefined, name: "bare" });
  });

  it("pulls into a new folder named after the function", () => {
    const taken = new Set([path.join(root, "orders"), path.join(root, "orders-2")]);
    expect(pullDir(root, "fresh", (p) => taken.has(p))).toBe(path.join(root, "fresh"));
    expect(pullDir(root, "orders", (p) => taken.has(p))).toBe(path.join(root, "orders-3"));
  });

  it("says where the code went and what lambda.toml left out", () => {
    const pulled = {
      function: "orders",
      dir: path.join(root, "orders"),
      files: 3,
      bytes: 1200,
      target: "app.py:handler",
      env_left_out: [] as string[],
      layers: [] as string[],
    };
    expect(pullSummary(pulled, root)).toEqual({
      line: "pulled orders into orders (3 files); deploy it back with the Deploy lens on app.py:handler",
      warning: undefined,
    });
    const withSecrets = pullSummary({ ...pulled, env_left_out: ["DB_PASSWORD"], layers: ["arn:aws:lambda:us-east-1:1:layer:x:1"] }, root);
    expect(withSecrets.warning).toBe(
      "environment values left out of lambda.toml (DB_PASSWORD); deploying without them removes them; its layers are only noted in lambda.toml (1)",
    );
  });
});
