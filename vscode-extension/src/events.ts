// Saved events for "Invoke with event…", as the server finds them (`lambda.eventFiles`: the one
// rule for a function's event files), and JSON typed by hand. No `vscode` import.
import * as path from "node:path";

export interface EventFile {
  /** Absolute path. */
  path: string;
  /** Shown in the picker: the path relative to the workspace folder. */
  label: string;
}

/** What was last sent to a function, remembered per function in the workspace state. */
export type LastEvent = { kind: "file"; path: string } | { kind: "json"; text: string };

/** `lambda.eventFiles`' answer: the saved events, nearest first, and where a sample goes. */
export interface SavedEvents {
  files: string[];
  sample: string;
}

/**
 * The saved events of a function, asked of the server and labelled relative to the workspace
 * folder `root`. None when the server cannot say (a file not saved yet, an older server): the
 * picker still offers sample events and "Enter JSON…".
 */
export async function findEventFiles(
  ask: (args: { uri: string; function: string }) => Promise<SavedEvents>,
  target: { uri: string; function: string },
  root: string | undefined,
): Promise<EventFile[]> {
  let saved: SavedEvents;
  try {
    saved = await ask({ uri: target.uri, function: target.function });
  } catch {
    return [];
  }
  return saved.files.map((p) => ({ path: p, label: labelFor(p, root) }));
}

/** `p` relative to `root` when it is inside it, else `p` itself. */
function labelFor(p: string, root: string | undefined): string {
  if (!root) return p;
  const rel = path.relative(root, p);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : p;
}

/** Undefined when `text` is one JSON value, else a sentence saying what is wrong. */
export function validateJson(text: string): string | undefined {
  if (!text.trim()) return "Enter a JSON event, for example {} or {\"name\": \"world\"}";
  try {
    JSON.parse(text);
    return undefined;
  } catch (e) {
    return `Not valid JSON: ${(e as Error).message}`;
  }
}

export type EventChoice =
  | { kind: "file"; path: string }
  | { kind: "json"; text: string }
  | { kind: "template"; trigger: string }
  | { kind: "enter" };

/** One entry of the server's sample events catalog (`lambda.listEvents`). */
export interface Trigger {
  name: string;
  title: string;
  /** The function's `event` annotation names this trigger (the server lists it first). */
  annotated: boolean;
}

export interface EventPickItem {
  label: string;
  description?: string;
  detail?: string;
  choice: EventChoice;
}

/**
 * The picker's rows: a template matching the `event` annotation first, the last event (when it
 * still applies), saved files, the other templates of the catalog, "Enter JSON…". The server
 * sends `triggers` only when the function has no saved event.
 */
export function eventPickItems(files: EventFile[], last: LastEvent | undefined, triggers: Trigger[] = []): EventPickItem[] {
  const items: EventPickItem[] = [];
  const template = (t: Trigger): EventPickItem => ({
    label: `$(symbol-event) ${t.title}`,
    description: t.annotated ? "matches the event's type annotation" : "sample event",
    choice: { kind: "template", trigger: t.name },
  });
  items.push(...triggers.filter((t) => t.annotated).map(template));
  if (last?.kind === "json") {
    items.push({
      label: "$(history) Last event",
      description: shorten(compactJson(last.text), 60),
      choice: { kind: "json", text: last.text },
    });
  }
  const lastFile = last?.kind === "file" ? last.path : undefined;
  const ordered = lastFile
    ? files.filter((f) => f.path === lastFile).concat(files.filter((f) => f.path !== lastFile))
    : files;
  for (const f of ordered) {
    items.push({
      label: `$(json) ${f.label}`,
      description: f.path === lastFile ? "last used" : undefined,
      choice: { kind: "file", path: f.path },
    });
  }
  items.push(...triggers.filter((t) => !t.annotated).map(template));
  items.push({
    label: "$(edit) Enter JSON…",
    description: "type the event",
    choice: { kind: "enter" },
  });
  return items;
}

function compactJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text;
  }
}

export function shorten(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** The workspace-state key of a function's last event. */
export function lastEventKey(uri: string, fn: string): string {
  return `lambdaLs.lastEvent:${uri}#${fn}`;
}
