import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  eventPickItems,
  findEventFiles,
  isEventFileFor,
  lastEventKey,
  searchDirs,
  validateJson,
} from "../src/events";

const root = path.resolve("/ws");

/** A fake file system: folder → names. */
function fakeReaddir(tree: Record<string, string[]>) {
  return async (dir: string) => {
    const names = tree[path.resolve(dir)];
    if (!names) throw Object.assign(new Error(`ENOENT ${dir}`), { code: "ENOENT" });
    return names;
  };
}

describe("event files", () => {
  it("match the function's name and variants of it", () => {
    expect(isEventFileFor("handler.json", "handler")).toBe(true);
    expect(isEventFileFor("handler-big.json", "handler")).toBe(true);
    expect(isEventFileFor("handler_v2.json", "handler")).toBe(true);
    expect(isEventFileFor("handler.s3.JSON", "handler")).toBe(true);
    expect(isEventFileFor("handlers.json", "handler")).toBe(false);
    expect(isEventFileFor("handler.yaml", "handler")).toBe(false);
    expect(isEventFileFor("other.json", "handler")).toBe(false);
  });

  it("are looked for from the file's folder up to the workspace folder", () => {
    expect(searchDirs(path.join(root, "a/b"), root)).toEqual([path.join(root, "a/b"), path.join(root, "a"), root]);
    expect(searchDirs(root, root)).toEqual([root]);
    // A file outside the workspace folder: only its own folder.
    expect(searchDirs(path.resolve("/elsewhere/x"), root)).toEqual([path.resolve("/elsewhere/x")]);
    expect(searchDirs(path.resolve("/elsewhere/x"), undefined)).toEqual([path.resolve("/elsewhere/x")]);
  });

  it("are listed nearest first, the exact name before variants", async () => {
    const files = await findEventFiles(
      path.join(root, "pkg"),
      root,
      "handler",
      fakeReaddir({
        [path.join(root, "pkg/events")]: ["handler-z.json", "other.json", "handler.json", "handler-a.json"],
        [path.join(root, "events")]: ["handler.json"],
      }),
    );
    expect(files.map((f) => f.label)).toEqual([
      path.join("pkg", "events", "handler.json"),
      path.join("pkg", "events", "handler-a.json"),
      path.join("pkg", "events", "handler-z.json"),
      path.join("events", "handler.json"),
    ]);
    expect(files[0].path).toBe(path.join(root, "pkg/events/handler.json"));
  });

  it("are none when no events folder exists", async () => {
    expect(await findEventFiles(path.join(root, "pkg"), root, "handler", fakeReaddir({}))).toEqual([]);
  });
});

describe("typed JSON", () => {
  it("accepts one JSON value", () => {
    expect(validateJson("{}")).toBeUndefined();
    expect(validateJson(' {"name": "world"} ')).toBeUndefined();
    expect(validateJson("[1, 2]")).toBeUndefined();
    expect(validateJson("42")).toBeUndefined();
  });

  it("says what is wrong otherwise", () => {
    expect(validateJson("")).toMatch(/Enter a JSON event/);
    expect(validateJson("   ")).toMatch(/Enter a JSON event/);
    expect(validateJson('{"name": ')).toMatch(/^Not valid JSON: /);
    expect(validateJson("{name: 1}")).toMatch(/^Not valid JSON: /);
  });
});

describe("event picker", () => {
  const files = [
    { path: "/ws/events/handler.json", label: "events/handler.json" },
    { path: "/ws/events/handler-big.json", label: "events/handler-big.json" },
  ];

  it("offers the saved files and Enter JSON…", () => {
    const items = eventPickItems(files, undefined);
    expect(items.map((i) => i.label)).toEqual([
      "$(json) events/handler.json",
      "$(json) events/handler-big.json",
      "$(edit) Enter JSON…",
    ]);
    expect(items[2].choice).toEqual({ kind: "enter" });
  });

  it("puts the last typed event first", () => {
    const items = eventPickItems(files, { kind: "json", text: '{ "name" : "x" }' });
    expect(items[0]).toMatchObject({ description: '{"name":"x"}', choice: { kind: "json", text: '{ "name" : "x" }' } });
    expect(items).toHaveLength(4);
  });

  it("puts the last used file first", () => {
    const items = eventPickItems(files, { kind: "file", path: "/ws/events/handler-big.json" });
    expect(items[0]).toMatchObject({ description: "last used", choice: { kind: "file", path: "/ws/events/handler-big.json" } });
    expect(items).toHaveLength(3);
  });

  it("offers the catalog's templates, the annotated trigger first, when nothing is saved", () => {
    const triggers = [
      { name: "sqs", title: "SQS messages", annotated: true },
      { name: "alb", title: "Application Load Balancer", annotated: false },
      { name: "direct", title: "Direct invoke (any JSON)", annotated: false },
    ];
    const items = eventPickItems([], { kind: "json", text: "{}" }, triggers);
    expect(items.map((i) => i.label)).toEqual([
      "$(symbol-event) SQS messages",
      "$(history) Last event",
      "$(symbol-event) Application Load Balancer",
      "$(symbol-event) Direct invoke (any JSON)",
      "$(edit) Enter JSON…",
    ]);
    expect(items[0]).toMatchObject({
      description: "matches the event's type annotation",
      choice: { kind: "template", trigger: "sqs" },
    });
    expect(items[2].choice).toEqual({ kind: "template", trigger: "alb" });
    // Without an annotation the catalog keeps the server's order, after the last event.
    const plain = eventPickItems([], undefined, triggers.map((t) => ({ ...t, annotated: false })));
    expect(plain.map((i) => i.choice)).toEqual([
      { kind: "template", trigger: "sqs" },
      { kind: "template", trigger: "alb" },
      { kind: "template", trigger: "direct" },
      { kind: "enter" },
    ]);
  });

  it("remembers per function", () => {
    expect(lastEventKey("file:///ws/a.py", "f")).not.toBe(lastEventKey("file:///ws/a.py", "g"));
    expect(lastEventKey("file:///ws/a.py", "f")).not.toBe(lastEventKey("file:///ws/b.py", "f"));
  });
});
