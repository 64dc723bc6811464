import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  SavedEvents,
  eventPickItems,
  findEventFiles,
  lastEventKey,
  validateJson,
} from "../src/events";

const root = path.resolve("/ws");
const target = { uri: "file:///ws/pkg/app.py", function: "handler" };

describe("event files", () => {
  it("are the server's (lambda.eventFiles), in its order, labelled relative to the workspace folder", async () => {
    const asked: object[] = [];
    const files = await findEventFiles(
      async (args): Promise<SavedEvents> => {
        asked.push(args);
        return {
          files: [
            path.join(root, "pkg/events/handler.json"),
            path.join(root, "pkg/events/handler-a.json"),
            path.join(root, "events/handler.json"),
          ],
          sample: path.join(root, "pkg/events/handler.json"),
        };
      },
      { ...target, payload: {} } as typeof target,
      root,
    );
    // Only what the command takes is sent.
    expect(asked).toEqual([{ uri: target.uri, function: "handler" }]);
    expect(files.map((f) => f.label)).toEqual([
      path.join("pkg", "events", "handler.json"),
      path.join("pkg", "events", "handler-a.json"),
      path.join("events", "handler.json"),
    ]);
    expect(files[0].path).toBe(path.join(root, "pkg/events/handler.json"));
  });

  it("outside the workspace folder are labelled by their whole path", async () => {
    const outside = path.resolve("/elsewhere/events/handler.json");
    const ask = async (): Promise<SavedEvents> => ({ files: [outside], sample: outside });
    expect(await findEventFiles(ask, target, root)).toEqual([{ path: outside, label: outside }]);
    expect(await findEventFiles(ask, target, undefined)).toEqual([{ path: outside, label: outside }]);
  });

  it("are none when the server has none or cannot say", async () => {
    const none = async (): Promise<SavedEvents> => ({ files: [], sample: "/ws/events/handler.json" });
    expect(await findEventFiles(none, target, root)).toEqual([]);
    const failing = async (): Promise<SavedEvents> => {
      throw new Error("file:///ws/untitled is not a file on disk; save it first");
    };
    expect(await findEventFiles(failing, target, root)).toEqual([]);
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
