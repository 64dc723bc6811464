#!/usr/bin/env node
// End to end in a real VS Code: code-server with the packaged extension, driven by headless
// Chromium through playwright-core. Everything talks to 127.0.0.1; the language server targets
// the embedded local Lambda (no AWS profile is the default) with a fixture ~/.aws/config holding
// two more profiles.
//
//   CODE_SERVER_DIR=<dir with node_modules/.bin/code-server>  (tests/vscode/install.sh prints it)
//   LAMBDA_LS_VSIX=<path to the .vsix>   or   LAMBDA_LS_BIN=<server binary to bundle>
//   node tests/vscode/e2e.mjs
//
// Screenshots and logs go to tests/artifacts/vscode/. Ends with `N passed, N failed`.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const artifacts = path.join(repo, "tests/artifacts/vscode");
const started = Date.now();
const TOTAL_BUDGET_MS = Number(process.env.LAMBDA_LS_E2E_BUDGET_MS ?? 9 * 60 * 1000);

const log = (...a) => console.log(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);

// ---------------------------------------------------------------------------------------------
// A tiny runner: steps run in order; once one fails the rest are reported failed without running
// (they depend on it), and the run ends with the plain closing line.

const results = [];
let broken = false;
async function step(name, fn) {
  if (broken) {
    results.push({ name, ok: false, why: "not run: an earlier step failed" });
    console.log(`not ok - ${name} (not run: an earlier step failed)`);
    return;
  }
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    broken = true;
    results.push({ name, ok: false, why: e?.stack ?? String(e) });
    console.log(`not ok - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n  ${String(e?.stack ?? e).replace(/\n/g, "\n  ")}`);
    await shot(`failure-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`).catch(() => {});
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Polls `fn` until it returns a truthy value, at most `ms`. */
async function until(what, ms, fn, every = 250) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}${last ? ` (last error: ${last.message})` : ""}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

// ---------------------------------------------------------------------------------------------
// Set-up: fixture home, workspace copy, extension

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lambda-ls-vscode-"));
const home = path.join(tmp, "home");
const userData = path.join(tmp, "user-data");
const extensionsDir = path.join(tmp, "extensions");
const configFile = path.join(tmp, "code-server.yaml");
const localDir = path.join(tmp, "local-lambda");
const workspace = path.join(tmp, "work", "hello");

fs.rmSync(artifacts, { recursive: true, force: true });
fs.mkdirSync(artifacts, { recursive: true });
fs.mkdirSync(path.join(home, ".aws"), { recursive: true });
// `cloud` is moto behind a counting proxy (started below); `offline` a loopback port nobody
// listens on, so STS cannot say whose account it is.
const awsConfig = (proxyPort, closedPort) =>
  "[profile dev]\nregion = eu-west-1\n\n[profile staging]\nregion = us-west-2\n\n" +
  `[profile cloud]\nregion = eu-west-1\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = not-a-secret\nendpoint_url = http://127.0.0.1:${proxyPort}\n\n` +
  `[profile offline]\nregion = us-east-1\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = not-a-secret\nendpoint_url = http://127.0.0.1:${closedPort}\n`;
fs.mkdirSync(path.join(userData, "User"), { recursive: true });
const settingsFile = path.join(userData, "User", "settings.json");
fs.writeFileSync(
  settingsFile,
  JSON.stringify(
    {
      "workbench.startupEditor": "none",
      "workbench.tips.enabled": false,
      "workbench.enableExperiments": false,
      "telemetry.telemetryLevel": "off",
      "extensions.autoCheckUpdates": false,
      "extensions.autoUpdate": false,
      "security.workspace.trust.enabled": false,
      "editor.inlayHints.enabled": "on",
      "window.commandCenter": false,
      "chat.commandCenter.enabled": false,
      "lambdaLs.trace.server": "messages",
    },
    null,
    2,
  ),
);
fs.writeFileSync(configFile, "auth: none\ncert: false\n");
fs.mkdirSync(localDir, { recursive: true });
fs.cpSync(path.join(repo, "examples/hello"), workspace, {
  recursive: true,
  filter: (p) => !p.includes("__pycache__"),
});

const codeServerDir = process.env.CODE_SERVER_DIR;
assert(codeServerDir, "CODE_SERVER_DIR is not set (tests/vscode/install.sh prints it)");
const codeServer = path.join(codeServerDir, "node_modules/.bin/code-server");
assert(fs.existsSync(codeServer), `${codeServer} does not exist`);

/** The environment of code-server, its extension host and so the language server. */
const env = { ...process.env };
for (const k of Object.keys(env)) {
  if (/^AWS_/.test(k) || /^VSCODE_/.test(k)) delete env[k];
}
Object.assign(env, {
  HOME: home,
  XDG_DATA_HOME: path.join(home, ".local/share"),
  XDG_CONFIG_HOME: path.join(home, ".config"),
  XDG_CACHE_HOME: path.join(home, ".cache"),
  LAMBDA_LS_LOCAL_DIR: localDir,
  AWS_EC2_METADATA_DISABLED: "true",
  RUST_LOG: process.env.RUST_LOG ?? "info",
});

let child; // code-server
let moto; // the fake AWS behind the counting proxy
let browser;
let page;
let shotIndex = 0;

async function shot(name) {
  if (!page) return;
  const file = path.join(artifacts, `${String(++shotIndex).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, timeout: 10000 });
  log(`screenshot ${path.relative(repo, file)}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Every live descendant of `pid` (by parent pid in /proc). */
function descendants(pid) {
  const children = new Map();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // Gone already.
    }
  }
  const out = [];
  const walk = (p) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops code-server and everything it started (extension hosts, lambda-ls, python workers). */
async function stopCodeServer() {
  if (!child?.pid) return;
  const root = child.pid;
  const pids = [root, ...descendants(root)];
  for (const p of pids.reverse()) {
    try {
      process.kill(p, "SIGTERM");
    } catch {
      // Gone.
    }
  }
  const deadline = Date.now() + 5000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const p of pids) {
    if (alive(p)) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // Gone.
      }
    }
  }
}

let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  try {
    await browser?.close();
  } catch {
    // Already closed.
  }
  await stopCodeServer();
  moto?.kill("SIGTERM");
  proxy?.close();
  // Keep the logs of VS Code and the extension host (the language server's output is there).
  try {
    fs.cpSync(path.join(userData, "logs"), path.join(artifacts, "vscode-logs"), { recursive: true });
  } catch {
    // No logs.
  }
  if (!process.env.LAMBDA_LS_E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
}

function finish() {
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`\nvscode e2e: ${((Date.now() - started) / 1000).toFixed(1)} s, artifacts in ${path.relative(repo, artifacts)}/`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

const watchdog = setTimeout(async () => {
  console.log(`not ok - the whole e2e ran out of its ${TOTAL_BUDGET_MS / 1000} s budget`);
  results.push({ name: "budget", ok: false });
  await cleanup();
  process.exit(finish() || 1);
}, TOTAL_BUDGET_MS);

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, async () => {
    await cleanup();
    process.exit(1);
  });
}

// ---------------------------------------------------------------------------------------------
// Driving VS Code

/** VS Code renders spaces in editor lines as no-break spaces. */
const norm = (s) => s.replace(/\u00a0/g, " ");
/** A regex matching `text` with any whitespace where it has spaces. */
const loose = (text) => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/ /g, "\\s+"));

/** The rendered text of the editor line that holds `text`. */
async function lineText(text) {
  return norm(await page.locator(".editor-instance .view-line", { hasText: loose(text) }).first().innerText());
}

const editorLines = () => page.locator(".editor-instance .monaco-editor .view-lines").first();

async function statusItemText() {
  const items = await page.locator(".statusbar-item").allInnerTexts();
  return items.find((t) => t.includes("lambda")) ?? "";
}

/** The text of the notifications currently shown. */
async function notifications() {
  return (await page.locator(".notifications-toasts .notification-toast").allInnerTexts()).join("\n");
}

/** Right-clicks `target` and picks `label` in the context menu with the keyboard. */
async function contextMenuOn(target, label) {
  await target.waitFor({ state: "visible", timeout: 10000 });
  const box = await target.boundingBox();
  assert(box, "the target of the right-click has no box");
  const at = { x: box.x + Math.min(box.width / 2, 120), y: box.y + box.height / 2 };
  const menu = page.locator(".context-view .monaco-menu").first();
  // The extension names the Deploy entry after the function under the cursor (a context key it
  // sets once the server answers after the cursor moved): move it and look again until then.
  let labels = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    await page.mouse.click(at.x + (attempt % 2) * 12, at.y);
    await page.waitForTimeout(600);
    await page.mouse.click(at.x + (attempt % 2) * 12, at.y, { button: "right" });
    await menu.waitFor({ state: "visible", timeout: 10000 });
    labels = await menu.locator(".action-item:not(.disabled) .action-label").allInnerTexts();
    if (labels.some((l) => l.trim() === label)) break;
    await page.keyboard.press("Escape");
  }
  assert(labels.some((l) => l.trim() === label), `the context menu has no "${label}": ${JSON.stringify(labels)}`);
  // Rows are behind the context view's pointer block: move the focus with the keyboard.
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press("ArrowDown");
    const focused = await menu.locator(".action-item.focused .action-label").first().innerText().catch(() => "");
    if (focused.trim() === label) {
      await page.keyboard.press("Enter");
      return;
    }
  }
  throw new Error(`could not focus "${label}" in the context menu`);
}

/** Right-clicks the editor line holding `lineText` and picks `label`. */
async function contextMenu(lineText, label) {
  await contextMenuOn(page.locator(".editor-instance .view-line", { hasText: loose(lineText) }).first(), label);
}

/**
 * Changes the workspace settings (.vscode/settings.json of the opened folder, which VS Code
 * watches with its workspace watcher; its watch on the user settings file outside the workspace
 * misses writes) and waits until `check` sees the effect.
 */
const workspaceSettingsFile = path.join(workspace, ".vscode", "settings.json");
async function changeSettings(change, what, ms, check) {
  let current = {};
  try {
    current = JSON.parse(fs.readFileSync(workspaceSettingsFile, "utf8"));
  } catch {
    // None yet.
  }
  fs.mkdirSync(path.dirname(workspaceSettingsFile), { recursive: true });
  fs.writeFileSync(workspaceSettingsFile, JSON.stringify(change(current), null, 2));
  return until(what, ms, check);
}

async function clearNotifications() {
  await page.keyboard.press("Escape");
  await palette("Notifications: Clear All Notifications");
  await until("the notifications to go", 5000, async () => (await page.locator(".notifications-toasts .notification-toast").count()) === 0);
}

/** Runs a command from the palette (F1), matching its title. */
async function palette(title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await input.waitFor({ state: "visible", timeout: 10000 });
  await input.fill(`>${title}`);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().waitFor({ timeout: 10000 });
  for (let i = 0; i < 10; i++) {
    const focused = await page.locator(".quick-input-list .monaco-list-row.focused .label-name").first().innerText().catch(() => "");
    if (norm(focused).trim() === title) {
      await page.keyboard.press("Enter");
      return;
    }
    await page.keyboard.press("ArrowDown");
  }
  throw new Error(`the command palette has no "${title}"`);
}

async function quickPickLabels() {
  const widget = page.locator(".quick-input-widget");
  await widget.waitFor({ state: "visible", timeout: 15000 });
  await page.locator(".quick-input-list .monaco-list-row").first().waitFor({ timeout: 15000 });
  // The first row of an entry is its label (and description); the second its detail.
  return page.locator(".quick-input-list .monaco-list-row .quick-input-list-rows > .quick-input-list-row:first-child .label-name").allInnerTexts();
}

// ---------------------------------------------------------------------------------------------

let vsix = process.env.LAMBDA_LS_VSIX;
let port;

await step("package the extension with the server binary", async () => {
  if (vsix) {
    assert(fs.existsSync(vsix), `LAMBDA_LS_VSIX=${vsix} does not exist`);
    return;
  }
  const bin = process.env.LAMBDA_LS_BIN ?? path.join(repo, "target/debug/lambda-ls");
  assert(fs.existsSync(bin), `no server binary at ${bin} (cargo build -p lambda-ls)`);
  vsix = path.join(tmp, "lambda-ls.vsix");
  execFileSync("npm", ["run", "--silent", "package"], {
    cwd: path.join(repo, "vscode-extension"),
    env: { ...process.env, LAMBDA_LS_SERVER_BINARY: bin, LAMBDA_LS_VSIX_OUT: vsix },
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 180000,
  });
  assert(fs.existsSync(vsix), "npm run package wrote no .vsix");
});

await step("code-server installs the .vsix", async () => {
  const out = execFileSync(
    codeServer,
    ["--user-data-dir", userData, "--extensions-dir", extensionsDir, "--install-extension", vsix],
    { env, timeout: 120000, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  log(out.trim());
  const installed = fs.readdirSync(extensionsDir).filter((d) => d.startsWith("lambda-ls.lambda-ls"));
  assert(installed.length === 1, `extension folder not found in ${extensionsDir}: ${fs.readdirSync(extensionsDir)}`);
  const bin = path.join(extensionsDir, installed[0], "server", "lambda-ls");
  assert(fs.existsSync(bin), `the installed extension has no server binary at ${bin}`);
});

/**
 * Starts code-server on a free port of 127.0.0.1 for `folder` and opens it in a new page.
 * `trust`: keep VS Code's workspace trust (the folder then opens in restricted mode).
 */
async function openVSCode({ folder, userDataDir, logName, trust = false }) {
  port = await freePort();
  const logFile = fs.openSync(path.join(artifacts, logName), "w");
  child = spawn(
    codeServer,
    [
      "--bind-addr", `127.0.0.1:${port}`,
      "--auth", "none",
      "--disable-telemetry",
      "--disable-update-check",
      ...(trust ? [] : ["--disable-workspace-trust"]),
      "--disable-getting-started-override",
      "--user-data-dir", userDataDir,
      "--extensions-dir", extensionsDir,
      "--config", configFile,
      folder,
    ],
    { env, stdio: ["ignore", logFile, logFile] },
  );
  const started = child;
  child.on("exit", (code, sig) => log(`code-server ${started.pid} exited (${code ?? sig})`));
  await until("code-server to answer /healthz", 60000, async () => {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
    return r?.ok;
  });
  browser ??= await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 60000,
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 850 } });
  page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on("pageerror", (e) => log(`page error: ${e.message}`));
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}`, { timeout: 60000 });
  await page.locator(".monaco-workbench").waitFor({ timeout: 60000 });
}

/** Every request that passed the proxy in front of moto: method, service (from the SigV4 scope). */
const proxied = [];
let proxy;
/** While set, Lambda requests wait in `stalled` (a deploy caught mid-way) until released. */
let stallLambda = false;
const stalled = [];

/** A proxy on 127.0.0.1 that records each request and forwards it to moto. */
function startProxy(upstreamPort) {
  proxy = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const service = (req.headers.authorization ?? "").match(/Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//)?.[1] ?? "?";
      const action = body.toString().match(/Action=(\w+)/)?.[1];
      proxied.push({ method: req.method, service, path: req.url, action, at: Date.now() });
      const forward = () => {
        const up = http.request({ host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on("error", (e) => {
          res.writeHead(502);
          res.end(String(e));
        });
        up.end(body);
      };
      if (stallLambda && service === "lambda") stalled.push(forward);
      else forward();
    });
  });
  return new Promise((resolve) => proxy.listen(0, "127.0.0.1", () => resolve(proxy.address().port)));
}

/** Requests that change something on Lambda or IAM (any POST, PUT or DELETE to them). */
const mutating = () => proxied.filter((r) => ["POST", "PUT", "DELETE", "PATCH"].includes(r.method) && ["lambda", "iam"].includes(r.service));

await step("moto behind a counting proxy on 127.0.0.1 (the profile cloud)", async () => {
  const venv = process.env.LAMBDA_LS_TEST_VENV;
  assert(venv, "LAMBDA_LS_TEST_VENV is not set (tests/run sets it)");
  const motoPort = await freePort();
  moto = spawn(path.join(venv, "bin/moto_server"), ["-H", "127.0.0.1", "-p", String(motoPort)], {
    // The AWS-managed policy lambda-ls attaches to its execution role must exist.
    env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: "true" },
    stdio: ["ignore", fs.openSync(path.join(artifacts, "moto.log"), "w"), fs.openSync(path.join(artifacts, "moto.log"), "a")],
  });
  await until("moto to answer", 30000, async () => (await fetch(`http://127.0.0.1:${motoPort}/moto-api/`).catch(() => undefined))?.ok);
  const configured = await fetch(`http://127.0.0.1:${motoPort}/moto-api/config`, { method: "POST", body: JSON.stringify({ lambda: { use_docker: false } }) });
  assert(configured.ok, `moto refused its config: ${configured.status}`);
  const proxyPort = await startProxy(motoPort);
  const closedPort = await freePort();
  fs.writeFileSync(path.join(home, ".aws", "config"), awsConfig(proxyPort, closedPort));
});

await step("code-server starts on 127.0.0.1 and the workbench loads", async () => {
  await openVSCode({ folder: workspace, userDataDir: userData, logName: "code-server.log" });
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: "handler.py" }).waitFor({ timeout: 30000 });
});

await step("opening handler.py starts the extension: status bar shows lambda · local", async () => {
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: "handler.py" }).first().click();
  await editorLines().waitFor({ timeout: 20000 });
  await until("handler.py in the editor", 20000, async () => norm(await editorLines().innerText()).includes("def handler"));
  const text = await until("the lambda status-bar item to show local", 60000, async () => {
    const t = await statusItemText();
    return t.includes("lambda · local") ? t : undefined;
  });
  log(`status bar: ${text}`);
  // The server's lenses appear over the handler.
  await until("the Deploy lens", 20000, async () =>
    (await page.locator(".editor-instance .codelens-decoration").allInnerTexts()).some((t) => t.includes("Deploy")),
  );
  await shot("opened");
});

await step('right-click in handler → "Deploy Handler as Lambda" deploys to the local Lambda', async () => {
  await contextMenu("name = (event or {})", "Deploy Handler as Lambda");
  // The deploy's progress is a notification with a Cancel button (the local Lambda is quick, so
  // it may already be done).
  const progress = page.locator(".notifications-toasts .notification-toast", { hasText: "deploying handler" }).first();
  await until("the deploy progress notification", 15000, async () => /deploying handler|Deployed/i.test(await notifications()), 100);
  if (await progress.isVisible()) {
    await shot("deploying");
    assert((await progress.locator(".monaco-button", { hasText: "Cancel" }).count()) === 1, "the deploy progress has no Cancel button");
  }
  const done = await until("the deploy to finish", 120000, async () => {
    const n = await notifications();
    return n.match(/Deployed \S+ to local[^\n]*/)?.[0];
  });
  log(done);
  await until("the progress notification to close", 10000, async () => !(await progress.isVisible()));
  await until("the deployed lens", 20000, async () =>
    (await page.locator(".editor-instance .codelens-decoration").allInnerTexts()).some((t) => t.includes("deployed to local")),
  );
  await shot("deployed");
});

await step('right-click → "Invoke Lambda" shows Hello, world! inline on the def line', async () => {
  await page.keyboard.press("Escape");
  await contextMenu("name = (event or {})", "Invoke Lambda");
  await until("the result inline", 60000, async () => {
    const t = await lineText("def handler(event, context):");
    return t.includes("Hello, world!") && t.includes("→");
  });
  await shot("invoked");
});

await step('"Invoke Lambda with Event…" → Enter JSON… sends the typed event', async () => {
  await contextMenu("name = (event or {})", "Invoke Lambda with Event…");
  const labels = await quickPickLabels();
  log(`event picker: ${JSON.stringify(labels)}`);
  assert(labels.some((l) => l.includes("events/handler.json")), `events/handler.json not offered: ${labels}`);
  assert(labels.some((l) => l.includes("Enter JSON")), `"Enter JSON…" not offered: ${labels}`);
  const input = page.locator(".quick-input-widget .quick-input-box input");
  await input.fill("Enter JSON");
  await page.waitForTimeout(200);
  await page.keyboard.press("Enter");
  // The input box: invalid JSON is refused with a message, valid JSON is sent.
  await until("the JSON input box", 10000, async () => /One JSON value/.test(await page.locator(".quick-input-widget").innerText()));
  await input.fill('{"name": ');
  await until("the invalid-JSON message", 5000, async () =>
    /Not valid JSON/.test(await page.locator(".quick-input-widget").innerText()),
  );
  await shot("event-invalid-json");
  await input.fill('{"name": "VS Code"}');
  await page.waitForTimeout(200);
  await page.keyboard.press("Enter");
  await until("the new result inline", 60000, async () =>
    (await lineText("def handler(event, context):")).includes("Hello, VS Code!"),
  );
});

await step("Debug lens: VS Code attaches by itself and stops on the breakpoint line; continuing shows the result inline; Stop ends the invocation", async () => {
  await page.keyboard.press("Escape");
  // A breakpoint on the line that reads the event (F9 on the clicked line).
  await page.locator(".editor-instance .view-line", { hasText: loose("name = (event or {})") }).first().click();
  await page.keyboard.press("F9");
  await until("the breakpoint glyph", 10000, async () => (await page.locator(".codicon-debug-breakpoint").count()) > 0);
  await page.locator(".editor-instance .codelens-decoration a", { hasText: /^Debug$/ }).first().click();
  // Deploy, debugpy (installed once), attach: the editor stops on the breakpoint line.
  await until("the editor stopped on the breakpoint line", 180000, async () => {
    const line = page.locator(".editor-instance .view-overlays .debug-top-stack-frame-line");
    return (await line.count()) > 0 && (await page.locator(".debug-toolbar").isVisible());
  });
  await shot("debug-stopped");
  await page.keyboard.press("F5");
  await until("the debug session to end", 60000, async () => !(await page.locator(".debug-toolbar").isVisible()));
  await until("the debugged result inline", 60000, async () =>
    (await lineText("def handler(event, context):")).includes("Hello, world!"),
  );
  // Debug again, and Stop while stopped: the invocation ends with the stop, not a crash or a timeout.
  await page.locator(".editor-instance .codelens-decoration a", { hasText: /^Debug$/ }).first().click();
  await until("the editor stopped on the breakpoint line again", 120000, async () => {
    const line = page.locator(".editor-instance .view-overlays .debug-top-stack-frame-line");
    return (await line.count()) > 0 && (await page.locator(".debug-toolbar").isVisible());
  });
  const stop = page.locator(".debug-toolbar .codicon-debug-stop");
  assert((await stop.count()) === 1, "the debug toolbar offers no Stop (a Disconnect only detaches)");
  await stop.first().click();
  await until("the debug session to end after Stop", 30000, async () => !(await page.locator(".debug-toolbar").isVisible()));
  const stopped = await until("the stop inline", 30000, async () => {
    const t = await lineText("def handler(event, context):");
    return /stopped before the handler returned|DebugStopped/.test(t) ? t : undefined;
  });
  log(`after Stop: ${stopped}`);
  await shot("debug-stop");
  // The breakpoint off again, so later steps run without stopping, and the last event's result
  // back (Invoke reuses the event typed above), which later steps look for.
  await page.locator(".editor-instance .view-line", { hasText: loose("name = (event or {})") }).first().click();
  await page.keyboard.press("F9");
  await contextMenu("name = (event or {})", "Invoke Lambda");
  await until("the typed event's result inline again", 60000, async () =>
    (await lineText("def handler(event, context):")).includes("Hello, VS Code!"),
  );
  // Debugging opened the Run and Debug view; later steps use the Explorer.
  await palette("View: Show Explorer");
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: "handler.py" }).first().waitFor({ timeout: 10000 });
});

const lensTexts = () => page.locator(".editor-instance .codelens-decoration").allInnerTexts();

await step("Live lens: typing into handler.py and saving brings the new result inline", async () => {
  await page.locator(".editor-instance .codelens-decoration a", { hasText: /^Live$/ }).first().click();
  await until("the Stop Live lens", 30000, async () => (await lensTexts()).some((t) => t.includes("Stop Live")));
  const returnLine = () => page.locator(".editor-instance .view-line", { hasText: loose('"body": greet(') }).first();
  /** Saves with Ctrl+S and waits for the inline result to show `body`. */
  const saveAndSee = async (body) => {
    await page.keyboard.press("Control+S");
    const hint = await until(`the inline result to follow the save (${body})`, 60000, async () => {
      const t = await lineText("def handler(event, context):");
      return t.includes(body) ? t : undefined;
    });
    log(`after the save: ${hint}`);
  };
  // Typed over `name` in greet(name): the greeting shouts.
  await returnLine().locator("span", { hasText: /^name$/ }).last().dblclick();
  await page.keyboard.type("name.upper()", { delay: 30 });
  await until("the typed call", 5000, async () => norm(await returnLine().innerText()).includes("greet(name.upper())}"));
  await saveAndSee("Hello, VS CODE!");
  await shot("live-typed");
  // Undone and saved again: the result follows back.
  for (let i = 0; i < 30 && !norm(await returnLine().innerText()).includes("greet(name)}"); i++) {
    await page.keyboard.press("Control+Z");
  }
  assert(norm(await returnLine().innerText()).includes("greet(name)}"), "the edit was not undone");
  await saveAndSee("Hello, VS Code!");
  await page.locator(".editor-instance .codelens-decoration a", { hasText: /^Stop Live$/ }).first().click();
  await until("the Live lens back", 30000, async () => !(await lensTexts()).some((t) => t.includes("Stop Live")));
});

await step("with inlay hints off the result is an after-line decoration", async () => {
  const found = await changeSettings((st) => ({ ...st, "editor.inlayHints.enabled": "off" }), "the decoration after the def line", 30000, () =>
    page.evaluate(() => {
      const lines = [...document.querySelectorAll(".editor-instance .view-line")].filter((l) =>
        l.textContent.replace(/\u00a0/g, " ").includes("def handler(event, context):"),
      );
      for (const line of lines) {
        if (line.textContent.includes("Hello, VS Code!")) return undefined; // still the inlay hint
        for (const span of line.querySelectorAll("span")) {
          const content = getComputedStyle(span, "::after").content;
          if (content && content.includes("Hello, VS Code!")) return content;
        }
      }
      return undefined;
    }),
  );
  log(`decoration: ${found}`);
  await shot("decoration-fallback");
  await changeSettings((st) => ({ ...st, "editor.inlayHints.enabled": "on" }), "the inlay hint back", 30000, async () =>
    (await lineText("def handler(event, context):")).includes("Hello, VS Code!"),
  );
});

await step("a handler that raises: the error is a diagnostic on the raising line and a warning", async () => {
  await clearNotifications();
  await contextMenu("raise ValueError", "Deploy Handler as Lambda");
  await until("fail's deploy", 120000, async () => /Deployed handler-fail to local/.test(await notifications()));
  await contextMenu("raise ValueError", "Invoke Lambda");
  const warning = await until("the warning", 60000, async () => (await notifications()).match(/fail raised ValueError[^\n]*/)?.[0]);
  log(warning);
  // The server's diagnostic: a squiggle in the editor and an error in the status bar counts.
  await until("the error squiggle", 20000, async () => (await page.locator(".editor-instance .squiggly-error").count()) > 0);
  // F8 (Go to Next Problem) shows the diagnostic's message under its line.
  await page.locator(".editor-instance .view-line", { hasText: loose("return {") }).first().click();
  await page.keyboard.press("F8");
  const marker = await until("the problem widget", 10000, async () => {
    const t = norm(await page.locator(".editor-instance .marker-widget").first().innerText().catch(() => ""));
    return /ValueError: cannot handle/.test(t) ? t : undefined;
  });
  log(`problem: ${marker.split("\n")[0]}`);
  await shot("invoke-error-diagnostic");
  await page.keyboard.press("Escape");
});

await step('the menu says what Deploy does: "Deploy Function as Lambda (callable)" in a plain function', async () => {
  await page.keyboard.press("Escape");
  const line = page.locator(".editor-instance .view-line", { hasText: loose("return a + b") }).first();
  await line.waitFor({ timeout: 10000 });
  const box = await line.boundingBox();
  const menu = page.locator(".context-view .monaco-menu").first();
  let labels = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    await page.mouse.click(box.x + 60 + (attempt % 2) * 12, box.y + box.height / 2);
    await page.waitForTimeout(600);
    await page.mouse.click(box.x + 60 + (attempt % 2) * 12, box.y + box.height / 2, { button: "right" });
    await menu.waitFor({ state: "visible", timeout: 10000 });
    labels = (await menu.locator(".action-item .action-label").allInnerTexts()).map((l) => l.trim());
    await page.keyboard.press("Escape");
    if (labels.includes("Deploy Function as Lambda (callable)")) break;
  }
  assert(labels.includes("Deploy Function as Lambda (callable)"), `no callable deploy in the menu: ${JSON.stringify(labels)}`);
  assert(!labels.includes("Deploy Handler as Lambda"), `the menu offers a handler deploy in a callable: ${JSON.stringify(labels)}`);
});

await step('explorer: right-click handler.py → "Deploy File as Lambda" → pick add deploys it as a callable', async () => {
  await page.keyboard.press("Escape");
  await contextMenuOn(page.locator(".explorer-folders-view .monaco-list-row", { hasText: "handler.py" }).first(), "Deploy File as Lambda");
  const labels = await quickPickLabels();
  log(`functions: ${JSON.stringify(labels)}`);
  assert(["handler", "add", "fail"].every((f) => labels.some((l) => l.trim() === f)), `not every function is offered: ${labels}`);
  await shot("deploy-file-picker");
  await page.locator(".quick-input-widget .quick-input-box input").fill("add");
  await page.waitForTimeout(200);
  await page.keyboard.press("Enter");
  const done = await until("the callable's deploy", 120000, async () => (await notifications()).match(/Deployed handler-add to local[^\n]*/)?.[0]);
  log(done);
  await until("the deployed lens over add", 20000, async () => {
    const lenses = await page.locator(".editor-instance .codelens-decoration").allInnerTexts();
    return lenses.filter((t) => t.includes("deployed to local")).length >= 2;
  });
});

await step("status bar → QuickPick lists dev, staging and local; picking dev switches the target", async () => {
  // The mouse off the explorer's hovers and back to the top of handler.py (for the screenshot).
  await page.mouse.move(900, 650);
  await page.waitForTimeout(300);
  await clearNotifications();
  await page.locator(".editor-instance .monaco-editor textarea").first().focus();
  await page.keyboard.press("Control+Home");
  await page.locator(".statusbar-item", { hasText: "lambda · local" }).first().click();
  const labels = await quickPickLabels();
  log(`profiles: ${JSON.stringify(labels)}`);
  for (const want of ["dev", "staging", "local"]) {
    assert(labels.some((l) => l.trim() === want), `profile ${want} not in the picker: ${JSON.stringify(labels)}`);
  }
  const rows = await page.locator(".quick-input-list .monaco-list-row").allInnerTexts();
  assert(rows.some((r) => r.includes("dev") && r.includes("eu-west-1")), `dev's region is not shown: ${JSON.stringify(rows)}`);
  await shot("profile-picker");
  await page.locator(".quick-input-widget .quick-input-box input").fill("dev");
  await page.waitForTimeout(200);
  await page.keyboard.press("Enter");
  const text = await until("the status bar to show dev", 20000, async () => {
    const t = await statusItemText();
    return t.includes("lambda · dev · eu-west-1") ? t : undefined;
  });
  log(`status bar: ${text}`);
  await until("lambdaLs.profile = dev in the user settings", 10000, () => JSON.parse(fs.readFileSync(settingsFile, "utf8"))["lambdaLs.profile"] === "dev");
  await shot("profile-dev");
});

await step("each profile shows its own state: nothing from local on dev, all of it again back on local", async () => {
  await until("local's lenses and result to go on dev", 20000, async () => {
    const lenses = await lensTexts();
    return lenses.some((t) => t.includes("Deploy")) && !lenses.some((t) => t.includes("deployed to local"));
  });
  await until("the inline result to go on dev", 20000, async () => !(await lineText("def handler(event, context):")).includes("Hello"));
  await changeSettings((st) => ({ ...st, "lambdaLs.profile": "local" }), "local's state back", 30000, async () =>
    (await statusItemText()).includes("lambda · local") &&
    (await lensTexts()).some((t) => t.includes("deployed to local")) &&
    (await lineText("def handler(event, context):")).includes("Hello, VS Code!"),
  );
});

await step("first deploy to an AWS profile: a modal dialog names account, region and profile; Cancel deploys nothing", async () => {
  await changeSettings((st) => ({ ...st, "lambdaLs.profile": "cloud" }), "the status bar to show cloud", 30000, async () =>
    (await statusItemText()).includes("lambda · cloud"),
  );
  await clearNotifications();
  proxied.length = 0;
  await contextMenu("name = (event or {})", "Deploy Handler as Lambda");
  const dialog = page.locator(".monaco-dialog-box");
  await dialog.waitFor({ timeout: 30000 });
  const text = norm(await dialog.innerText());
  log(`question: ${text.replace(/\n/g, " | ")}`);
  assert(text.includes("Deploy to AWS account 123456789012 in eu-west-1 as profile cloud?"), `the question: ${text}`);
  assert(/Account: 123456789012/.test(text) && /Region: eu-west-1/.test(text) && /Profile: cloud/.test(text), `the details: ${text}`);
  await until("the progress to say it waits for the user", 10000, async () => /waiting for your answer/.test(await notifications()));
  await shot("deploy-question");
  await dialog.locator(".monaco-button", { hasText: "Cancel" }).first().click();
  await dialog.waitFor({ state: "detached", timeout: 10000 });
  await until("the progress to close", 10000, async () => !/deploying handler/i.test(await notifications()));
  await page.waitForTimeout(3000);
  assert(proxied.some((r) => r.service === "sts"), `STS was not asked whose account it is: ${JSON.stringify(proxied)}`);
  assert(mutating().length === 0, `requests after Cancel: ${JSON.stringify(mutating())}`);
  assert(!/Deployed/.test(await notifications()), "a deploy was reported after Cancel");
  log(`after Cancel: ${proxied.length} requests, none to Lambda or IAM: ${JSON.stringify(proxied.map((r) => `${r.method} ${r.service} ${r.action ?? r.path}`))}`);
});

await step("answering Deploy deploys to that profile, which its lens then shows", async () => {
  await clearNotifications();
  await contextMenu("name = (event or {})", "Deploy Handler as Lambda");
  const dialog = page.locator(".monaco-dialog-box");
  await dialog.waitFor({ timeout: 30000 });
  await dialog.locator(".monaco-button", { hasText: /^Deploy$/ }).first().click();
  const done = await until("the deploy to moto", 120000, async () => (await notifications()).match(/Deployed \S+ to cloud \(eu-west-1\)[^\n]*/)?.[0]);
  log(done);
  assert(mutating().length > 0, "the deploy reached neither Lambda nor IAM");
  await until("the progress notification to close", 10000, async () => !/deploying handler/i.test(await notifications()));
  await until("the lens of the new target", 20000, async () => (await lensTexts()).some((t) => t.includes("deployed to lambda/eu-west-1")));
  assert(!(await lensTexts()).some((t) => t.includes("deployed to local")), "local's lens shows on cloud");
});

await step("Cancel on the progress while the deploy waits for Lambda: nothing more reaches Lambda or IAM", async () => {
  await clearNotifications();
  stallLambda = true;
  const before = proxied.length;
  await contextMenu("raise ValueError", "Deploy Handler as Lambda");
  await until("the deploy to reach Lambda", 60000, () => stalled.length > 0);
  const progress = page.locator(".notifications-toasts .notification-toast", { hasText: "deploying fail" }).first();
  await progress.waitFor({ timeout: 10000 });
  await shot("deploy-cancel");
  await progress.locator(".monaco-button", { hasText: "Cancel" }).first().click();
  const cancelledAt = Date.now();
  await until("the progress to close", 10000, async () => !(await progress.isVisible()));
  stallLambda = false;
  stalled.splice(0).forEach((forward) => forward());
  await page.waitForTimeout(3000);
  const after = mutating().filter((r) => r.at >= cancelledAt);
  log(`this deploy: ${JSON.stringify(proxied.slice(before).map((r) => `${r.method} ${r.service} ${r.action ?? r.path}`))}`);
  assert(after.length === 0, `requests after Cancel: ${JSON.stringify(after)}`);
  assert(!/Deployed handler-fail/.test(await notifications()), "a deploy was reported after Cancel");
});

await step("an account that cannot be determined: no question, the deploy fails at once with the reason", async () => {
  await changeSettings((st) => ({ ...st, "lambdaLs.profile": "offline" }), "the status bar to show offline", 30000, async () =>
    (await statusItemText()).includes("lambda · offline"),
  );
  await clearNotifications();
  const t0 = Date.now();
  await contextMenu("name = (event or {})", "Deploy Handler as Lambda");
  const failure = await until("the failure", 30000, async () => (await notifications()).match(/nothing was deployed: cannot tell which AWS account[^\n]*/)?.[0]);
  log(`after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${failure}`);
  assert((await page.locator(".monaco-dialog-box").count()) === 0, "a question was asked");
  await shot("unreachable-account");
  await changeSettings((st) => {
    delete st["lambdaLs.profile"];
    return st;
  }, "the status bar back on dev", 30000, async () => (await statusItemText()).includes("lambda · dev · eu-west-1"));
});

await step('a server path that does not exist: error status and an "Open Settings" action', async () => {
  await clearNotifications();
  await changeSettings((st) => ({ ...st, "lambdaLs.server.path": path.join(tmp, "no-such-lambda-ls") }), "the error status", 30000, async () =>
    (await statusItemText()).includes("lambda") && (await page.locator(".statusbar-item .codicon-error").count()) > 0,
  );
  const toast = page.locator(".notifications-toasts .notification-toast", { hasText: "cannot be started" }).first();
  await toast.waitFor({ timeout: 20000 });
  assert(/lambdaLs\.server\.path/.test(await toast.innerText()), "the error does not name lambdaLs.server.path");
  await shot("server-path-error");
  await toast.locator(".monaco-button", { hasText: "Open Settings" }).first().click();
  await until("the settings editor on lambdaLs.server.path", 20000, async () =>
    /Server: Path/i.test(await page.locator(".settings-editor").innerText().catch(() => "")),
  );
  const text = await changeSettings((st) => {
    delete st["lambdaLs.server.path"];
    return st;
  }, "the server to come back on dev", 30000, async () => {
    const t = await statusItemText();
    return t.includes("lambda · dev · eu-west-1") ? t : undefined;
  });
  log(`status bar after restart: ${text}`);
});

await step("an untrusted workspace whose user settings hold the AWS Toolkit's aws.profile: the target follows the Toolkit, deploying is disabled", async () => {
  await page.context().close();
  await stopCodeServer();
  const untrusted = path.join(tmp, "work", "untrusted");
  fs.cpSync(path.join(repo, "examples/hello"), untrusted, { recursive: true, filter: (p) => !p.includes("__pycache__") });
  const userData2 = path.join(tmp, "user-data-untrusted");
  fs.mkdirSync(path.join(userData2, "User"), { recursive: true });
  fs.writeFileSync(
    path.join(userData2, "User", "settings.json"),
    JSON.stringify({
      "workbench.startupEditor": "none",
      "security.workspace.trust.enabled": true,
      "telemetry.telemetryLevel": "off",
      // The AWS Toolkit's setting (as its connection id); lambdaLs.profile is not set here.
      "aws.profile": "profile:staging",
    }),
  );
  await openVSCode({ folder: untrusted, userDataDir: userData2, logName: "code-server-untrusted.log", trust: true });
  // VS Code asks whether to trust the folder's authors: no.
  const dialog = page.locator(".monaco-dialog-box");
  await dialog.waitFor({ timeout: 30000 });
  await dialog.locator(".monaco-button", { hasText: "No, I don't trust the authors" }).first().click();
  await dialog.waitFor({ state: "detached", timeout: 10000 });
  await page.locator(".explorer-folders-view .monaco-list-row", { hasText: "handler.py" }).first().click();
  const text = await until("the status bar to follow aws.profile", 60000, async () => {
    const t = await statusItemText();
    return t.includes("lambda · staging · us-west-2") ? t : undefined;
  });
  log(`status bar: ${text}`);
  // The menu entry is there but disabled.
  const line = page.locator(".editor-instance .view-line", { hasText: loose("name = (event or {})") }).first();
  await line.waitFor({ timeout: 20000 });
  const box = await line.boundingBox();
  const menu = page.locator(".context-view .monaco-menu").first();
  let disabled = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    await page.mouse.click(box.x + 100 + (attempt % 2) * 12, box.y + box.height / 2);
    await page.waitForTimeout(600);
    await page.mouse.click(box.x + 100 + (attempt % 2) * 12, box.y + box.height / 2, { button: "right" });
    await menu.waitFor({ state: "visible", timeout: 10000 });
    disabled = await menu.locator(".action-item.disabled .action-label").allInnerTexts();
    if (disabled.some((l) => l.trim() === "Deploy Handler as Lambda")) break;
    await page.keyboard.press("Escape");
  }
  assert(disabled.some((l) => l.trim() === "Deploy Handler as Lambda"), `Deploy Handler as Lambda is not disabled: ${JSON.stringify(disabled)}`);
  await shot("untrusted-menu");
  await page.keyboard.press("Escape");
  // The server's Deploy lens goes through the extension, which refuses.
  await page.locator(".editor-instance .codelens-decoration a", { hasText: /^Deploy$/ }).first().click();
  await until("the untrusted-workspace warning", 15000, async () => /deploying is disabled in an untrusted workspace/.test(await notifications()));
  await shot("untrusted-warning");
});

clearTimeout(watchdog);
await cleanup();
process.exit(finish());
