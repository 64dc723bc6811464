import { describe, expect, it } from "vitest";
import {
  DeployOutcome,
  InvokeOutcome,
  deployOutput,
  deploySummary,
  describeEvent,
  hintLabelText,
  inlayHintsHidden,
  invokeOutput,
  invokeSummary,
  rpcError,
} from "../src/format";

const deployed: DeployOutcome = {
  function_name: "handler-handler",
  action: "created",
  target: { profile: "local", region: "us-east-1", local: true, endpoint: "http://127.0.0.1:1" },
  duration_ms: 1234,
};

const ok: InvokeOutcome = {
  function: "handler-handler",
  status_code: 200,
  function_error: null,
  payload: { statusCode: 200, body: "Hello, world!" },
  error: null,
  log_tail: "START\ngreeting world\nEND\n",
  duration_ms: 84.4,
};

const failed: InvokeOutcome = {
  ...ok,
  function: "handler-fail",
  function_error: "Unhandled",
  payload: { errorMessage: "cannot handle {}", errorType: "ValueError" },
  error: { errorMessage: "cannot handle {}", errorType: "ValueError", stackTrace: [] },
};

describe("deploy text", () => {
  it("names the function, target and action", () => {
    expect(deploySummary(deployed)).toBe("Deployed handler-handler to local (created, 1.2 s)");
    expect(deploySummary({ ...deployed, action: "unchanged", duration_ms: 80, target: { profile: "dev", region: "eu-west-1", local: false } })).toBe(
      "Deployed handler-handler to dev (eu-west-1) (unchanged, 80 ms)",
    );
  });

  it("writes the whole outcome to the output", () => {
    const out = deployOutput(deployed, new Date(2024, 0, 1, 12, 0, 0));
    expect(out).toMatch(/^\[12:00:00\] Deployed handler-handler/);
    expect(out).toContain('"function_name": "handler-handler"');
  });
});

describe("invoke text", () => {
  it("summarizes a result in one line", () => {
    expect(invokeSummary(ok)).toBe('handler-handler → {"statusCode":200,"body":"Hello, world!"} (84 ms)');
    expect(invokeSummary({ ...ok, payload: { big: "x".repeat(300) } }, 40)).toHaveLength(
      "handler-handler → ".length + 40 + " (84 ms)".length,
    );
    expect(invokeSummary({ ...ok, payload: null, payload_text: "not json" })).toBe("handler-handler → not json (84 ms)");
  });

  it("names the error of a failed function", () => {
    expect(invokeSummary(failed)).toBe("handler-fail raised ValueError: cannot handle {}");
  });

  it("writes the whole result and the log tail to the output", () => {
    const out = invokeOutput(ok, describeEvent({ payload: { name: "world" } }));
    expect(out).toContain('event {"name":"world"}');
    expect(out).toContain('"body": "Hello, world!"');
    expect(out).toContain("--- log tail ---\nSTART\ngreeting world\nEND\n");
    const bad = invokeOutput(failed, describeEvent({ eventFile: "/ws/events/fail.json" }));
    expect(bad).toContain("Unhandled error");
    expect(bad).toContain("event file /ws/events/fail.json");
    expect(bad).toContain('"errorType": "ValueError"');
    expect(describeEvent({})).toBe("default event");
  });
});

describe("inline fallback", () => {
  it("applies when VS Code hides inlay hints", () => {
    expect(inlayHintsHidden("off")).toBe(true);
    expect(inlayHintsHidden("offUnlessPressed")).toBe(true);
    expect(inlayHintsHidden(false)).toBe(true);
    expect(inlayHintsHidden("on")).toBe(false);
    expect(inlayHintsHidden("onUnlessPressed")).toBe(false);
    expect(inlayHintsHidden(undefined)).toBe(false);
  });

  it("reads string and part labels", () => {
    expect(hintLabelText("→ 1")).toBe("→ 1");
    expect(hintLabelText([{ value: "→ " }, { value: "1" }])).toBe("→ 1");
  });
});

describe("server errors", () => {
  it("keep the code and the sentence", () => {
    expect(rpcError({ code: -32800, message: "cancelled" })).toEqual({ code: -32800, message: "cancelled" });
    expect(rpcError(new Error("spawn ENOENT"))).toEqual({ code: undefined, message: "spawn ENOENT" });
    expect(rpcError("x")).toEqual({ message: "x" });
  });
});
