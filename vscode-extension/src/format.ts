// Text made from the server's results: notifications, the output channel, the fallback inline
// decoration. No `vscode` import.

/** `lambda.deploy`'s result (the deploy core's JSON, snake_case). */
export interface DeployOutcome {
  function_name: string;
  function_arn?: string;
  action: string;
  handler?: string;
  runtime?: string;
  code_sha256?: string;
  code_size?: number;
  target?: { profile?: string | null; region?: string | null; local?: boolean; endpoint?: string | null };
  duration_ms?: number;
}

/** `lambda.invoke`'s result. */
export interface InvokeOutcome {
  function: string;
  status_code: number;
  function_error: string | null;
  payload: unknown;
  payload_text?: string | null;
  error: { errorMessage?: string; errorType?: string; stackTrace?: unknown } | null;
  log_tail: string | null;
  duration_ms: number;
  executed_version?: string | null;
}

export function targetLabel(t: DeployOutcome["target"]): string {
  if (!t) return "Lambda";
  if (t.local) return "local";
  const profile = t.profile ?? "default credentials";
  return t.region ? `${profile} (${t.region})` : profile;
}

export function seconds(ms: number | undefined): string {
  if (ms === undefined) return "";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const ACTIONS: Record<string, string> = {
  created: "created",
  "updated-code": "code updated",
  "updated-configuration": "configuration updated",
  "updated-code-and-configuration": "code and configuration updated",
  unchanged: "unchanged",
};

/** `Deployed hello-handler to local (created, 1.2 s)`. */
export function deploySummary(o: DeployOutcome): string {
  const action = ACTIONS[o.action] ?? o.action;
  const took = o.duration_ms !== undefined ? `, ${seconds(o.duration_ms)}` : "";
  return `Deployed ${o.function_name} to ${targetLabel(o.target)} (${action}${took})`;
}

/** The result as one line of JSON (or the raw text a function returned that is not JSON). */
export function compactResult(o: InvokeOutcome): string {
  if (o.payload_text !== undefined && o.payload_text !== null) return o.payload_text;
  return JSON.stringify(o.payload) ?? "null";
}

/** `hello-handler → {"statusCode":200,…} (84 ms)` or `hello-fail raised ValueError: …`. */
export function invokeSummary(o: InvokeOutcome, max = 120): string {
  if (o.function_error) {
    return `${o.function} raised ${errorLine(o)}`;
  }
  return `${o.function} → ${clip(compactResult(o), max)} (${seconds(o.duration_ms)})`;
}

export function errorLine(o: InvokeOutcome): string {
  const e = o.error;
  if (!e) return o.function_error ?? "an error";
  return [e.errorType, e.errorMessage].filter(Boolean).join(": ") || (o.function_error ?? "an error");
}

export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`;
}

function stamp(now: Date): string {
  return now.toTimeString().slice(0, 8);
}

/** What the "Lambda" output channel gets for a deploy. */
export function deployOutput(o: DeployOutcome, now = new Date()): string {
  return `[${stamp(now)}] ${deploySummary(o)}\n${JSON.stringify(o, null, 2)}\n`;
}

/** What the "Lambda" output channel gets for an invoke: the whole result and the log tail. */
export function invokeOutput(o: InvokeOutcome, event: string, now = new Date()): string {
  const head = o.function_error
    ? `[${stamp(now)}] invoke ${o.function} (${event}): ${o.function_error} error in ${seconds(o.duration_ms)}`
    : `[${stamp(now)}] invoke ${o.function} (${event}): status ${o.status_code} in ${seconds(o.duration_ms)}`;
  const body =
    o.function_error && o.error
      ? JSON.stringify(o.error, null, 2)
      : o.payload_text !== undefined && o.payload_text !== null
        ? o.payload_text
        : JSON.stringify(o.payload, null, 2);
  const tail = o.log_tail ? `--- log tail ---\n${o.log_tail.replace(/\s+$/, "")}\n` : "";
  return `${head}\n${body}\n${tail}`;
}

/** How the event was chosen, for the output channel. */
export function describeEvent(args: { payload?: unknown; eventFile?: string }): string {
  if (args.eventFile) return `event file ${args.eventFile}`;
  if (args.payload !== undefined) return `event ${clip(JSON.stringify(args.payload), 60)}`;
  return "default event";
}

/**
 * Whether VS Code hides inlay hints for this editor (`editor.inlayHints.enabled` is `off` or
 * `offUnlessPressed`, or the old boolean `false`): then the result is drawn as a decoration.
 */
export function inlayHintsHidden(setting: unknown): boolean {
  return setting === false || setting === "off" || setting === "offUnlessPressed";
}

/** An LSP inlay hint label: a string or parts. */
export function hintLabelText(label: string | { value: string }[]): string {
  return typeof label === "string" ? label : label.map((p) => p.value).join("");
}

/** A JSON-RPC error from the server: its code and sentence. */
export function rpcError(e: unknown): { code?: number; message: string } {
  if (e && typeof e === "object") {
    const o = e as { code?: unknown; message?: unknown };
    return {
      code: typeof o.code === "number" ? o.code : undefined,
      message: typeof o.message === "string" ? o.message : String(e),
    };
  }
  return { message: String(e) };
}

export const RPC = {
  invalidParams: -32602,
  requestFailed: -32803,
  requestCancelled: -32800,
  internalError: -32603,
} as const;
