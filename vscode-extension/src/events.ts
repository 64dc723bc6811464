// Saved events for "Invoke with event…": `events/<function>*.json` in the file's folder or any
// folder above it up to the workspace folder, and JSON typed by hand. No `vscode` import.
import * as path from "node:path";

export interface EventFile {
  /** Absolute path. */
  path: string;
  /** Shown in the picker: the path relative to the workspace folder. */
  label: string;
}

/** What was last sent to a function, remembered per function in the workspace state. */
export type LastEvent = { kind: "file"; path: string } | { kind: "json"; text: string };

/** The folders to look in: the file's folder, then each parent up to `stop` (inclusive). */
export function searchDirs(fileDir: string, stop: string | undefined): string[] {
  const dirs: string[] = [];
  let dir = path.resolve(fileDir);
  const end = stop ? path.resolve(stop) : undefined;
  for (;;) {
    dirs.push(dir);
    if (end === undefined || dir === end) break;
    const up = path.dirname(dir);
    // Not under `stop`: look only in the file's own folder.
    if (up === dir || !isInside(up, end)) break;
    dir = up;
  }
  return dirs;
}

function isInside(dir: string, root: string): boolean {
  const rel = path.relative(root, dir);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** `handler.json`, `handler-big.json`, `handler_v2.json`, `handler.s3.json` for `handler`. */
export function isEventFileFor(name: string, fn: string): boolean {
  if (!name.toLowerCase().endsWith(".json") || !name.startsWith(fn)) return false;
  const rest = name.slice(fn.length);
  return rest.toLowerCase() === ".json" || /^[-_.]/.test(rest);
}

/** The saved events of `fn`, nearest folder first, `<fn>.json` before its variants. */
export async function findEventFiles(
  fileDir: string,
  root: string | undefined,
  fn: string,
  readdir: (dir: string) => Promise<string[]>,
): Promise<EventFile[]> {
  const out: EventFile[] = [];
  for (const dir of searchDirs(fileDir, root)) {
    const events = path.join(dir, "events");
    let names: string[];
    try {
      names = await readdir(events);
    } catch {
      continue;
    }
    const matching = names
      .filter((n) => isEventFileFor(n, fn))
      .sort((a, b) => {
        const exact = `${fn}.json`;
        if (a === exact) return -1;
        if (b === exact) return 1;
        return a.localeCompare(b);
      });
    for (const n of matching) {
      const p = path.join(events, n);
      out.push({ path: p, label: root ? path.relative(root, p) : p });
    }
  }
  return out;
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
