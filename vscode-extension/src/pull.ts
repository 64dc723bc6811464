// "Open Deployed Function…": the picker's rows, the folder a function is pulled into, and the
// summary of a pull. The server lists and pulls; no `vscode` import here.
import * as path from "node:path";

/** One entry of `lambda.listFunctions`. */
export interface DeployedFunction {
  name: string;
  runtime?: string | null;
  handler?: string | null;
  last_modified?: string | null;
  code_size?: number | null;
}

/** What `lambda.pull` answers. */
export interface Pulled {
  function: string;
  dir: string;
  files: number;
  bytes: number;
  /** `file.py:function`, as `lambda-ls deploy` takes it. */
  target: string;
  env_left_out: string[];
  layers: string[];
  file?: string | null;
}

export interface FunctionPickItem {
  label: string;
  description?: string;
  detail?: string;
  name: string;
}

export function functionPickItems(functions: DeployedFunction[]): FunctionPickItem[] {
  return functions.map((f) => ({
    label: `$(cloud) ${f.name}`,
    description: [f.runtime, f.handler].filter(Boolean).join(" · ") || undefined,
    detail: f.last_modified ? `last modified ${f.last_modified}` : undefined,
    name: f.name,
  }));
}

/** `<root>/<name>`, or `<root>/<name>-2`, `-3`… when that is taken: a pull needs a new folder. */
export function pullDir(root: string, name: string, exists: (p: string) => boolean): string {
  const first = path.join(root, name);
  if (!exists(first)) return first;
  for (let i = 2; ; i++) {
    const next = path.join(root, `${name}-${i}`);
    if (!exists(next)) return next;
  }
}

/** One line for the output channel, and a warning when values were left out of lambda.toml. */
export function pullSummary(p: Pulled, root: string): { line: string; warning?: string } {
  const where = path.relative(root, p.dir) || ".";
  const line = `pulled ${p.function} into ${where} (${p.files} files); deploy it back with the Deploy lens on ${p.target}`;
  const notes: string[] = [];
  if (p.env_left_out.length) {
    notes.push(`environment values left out of lambda.toml (${p.env_left_out.join(", ")}); deploying without them removes them`);
  }
  if (p.layers.length) {
    notes.push(`its layers are only noted in lambda.toml (${p.layers.length})`);
  }
  return { line, warning: notes.length ? notes.join("; ") : undefined };
}
