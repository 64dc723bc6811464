// The lambda-ls VS Code extension: a thin client. The server (`lambda-ls lsp`) decides what is
// deployable, packages, deploys, invokes and reports; this file starts it, routes commands to it
// and shows what it answers.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomUUID } from "node:crypto";
import * as vscode from "vscode";
import {
  ClientCapabilities,
  CodeActionRequest,
  Command,
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  InlayHintRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  StaticFeature,
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
} from "vscode-languageclient/node";
import { DEBUG_TYPE, DebugReady, LaunchAsAttach, adapterEndpoint, attachConfiguration } from "./debug";
import { ResultDecorations, ServerHint } from "./decorations";
import {
  EventChoice,
  LastEvent,
  SavedEvents,
  Trigger,
  eventPickItems,
  findEventFiles,
  lastEventKey,
  validateJson,
} from "./events";
import {
  DeployOutcome,
  InvokeOutcome,
  RPC,
  describeEvent,
  deployOutput,
  deploySummary,
  errorLine,
  hintLabelText,
  invokeOutput,
  invokeSummary,
  rpcError,
} from "./format";
import {
  ProfileInfo,
  ProfileListing,
  ServerState,
  effectiveProfile,
  profileItems,
  statusText,
  statusTooltip,
} from "./profile";
import { DeployedFunction, Pulled, functionPickItems, pullDir, pullSummary } from "./pull";
import { bundledPath, resolveServerPath } from "./serverPath";

/** The server's command ids (registered by the language client itself: never again here). */
const SERVER = {
  deploy: "lambda.deploy",
  invoke: "lambda.invoke",
  logs: "lambda.logs",
  listProfiles: "lambda.listProfiles",
  selectProfile: "lambda.selectProfile",
  debug: "lambda.debug",
  listFunctions: "lambda.listFunctions",
  listEvents: "lambda.listEvents",
  createEvent: "lambda.createEvent",
  eventFiles: "lambda.eventFiles",
  pull: "lambda.pull",
} as const;

/** `lambdaLs/confirmDeploy`: the question before the first deploy of a session to an AWS profile. */
interface DeployQuestion {
  message: string;
  account: string;
  region: string;
  profile: string;
}

/**
 * Announces `experimental.lambdaLs.confirmDeploy`, so the server asks before a deploy to AWS with
 * `lambdaLs/confirmDeploy` (answered with a modal dialog) instead of `window/showMessageRequest`,
 * which VS Code shows as a toast that hides itself; and `debugReady`, so a debug invocation is
 * announced with `lambdaLs/debugReady`, which this attaches to by itself.
 */
const confirmDeployFeature: StaticFeature = {
  fillClientCapabilities(caps: ClientCapabilities): void {
    const experimental = (caps.experimental ?? {}) as Record<string, unknown>;
    caps.experimental = { ...experimental, lambdaLs: { confirmDeploy: true, debugReady: true } };
  },
  initialize(): void {},
  getState: () => ({ kind: "static" }),
  clear(): void {},
};

/** `{uri, function}` and the other fields the server's commands take. */
interface FunctionArgs {
  uri: string;
  function: string;
  callable?: boolean;
  name?: string;
  payload?: unknown;
  eventFile?: string;
  qualifier?: string;
}

let controller: Controller | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  controller = new Controller(context);
  context.subscriptions.push(controller);
  await controller.start();
}

export async function deactivate(): Promise<void> {
  await controller?.stop();
  controller = undefined;
}

class Controller implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private state: ServerState = { state: "starting" };
  private readonly output = vscode.window.createOutputChannel("Lambda");
  private readonly serverOutput = vscode.window.createOutputChannel("Lambda Language Server");
  private readonly status = vscode.window.createStatusBarItem("lambdaLs.profile", vscode.StatusBarAlignment.Left, 50);
  private readonly decorations = new ResultDecorations((doc) => this.serverHints(doc));
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly context: vscode.ExtensionContext) {
    this.status.name = "Lambda profile";
    this.status.command = "lambdaLs.selectProfile";
    this.render();
    this.status.show();
    const command = (id: string, fn: (...args: any[]) => unknown) =>
      this.disposables.push(vscode.commands.registerCommand(id, fn));
    command("lambdaLs.deployHandler", (uri?: vscode.Uri) => this.deployHandlerAtCursor(uri));
    command("lambdaLs.deployCallable", (uri?: vscode.Uri) => this.deployHandlerAtCursor(uri));
    command("lambdaLs.invoke", (uri?: vscode.Uri) => this.invokeAtCursor(uri, false));
    command("lambdaLs.invokeWithEvent", (uri?: vscode.Uri) => this.invokeAtCursor(uri, true));
    command("lambdaLs.deployFile", (uri?: vscode.Uri) => this.deployFile(uri));
    command("lambdaLs.selectProfile", () => this.pickProfile());
    command("lambdaLs.debug", (uri?: vscode.Uri) => this.debugAtCursor(uri));
    this.disposables.push(
      vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, {
        createDebugAdapterDescriptor: (session) => {
          const { host, port } = adapterEndpoint(session.configuration);
          return new vscode.DebugAdapterInlineImplementation(LaunchAsAttach.connect(host, port));
        },
      }),
    );
    command("lambdaLs.openDeployedFunction", () => this.openDeployedFunction());
    command("lambdaLs.showOutput", () => this.output.show(true));
    command("lambdaLs.restartServer", () => this.restart());
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => this.configurationChanged(e)),
      vscode.window.onDidChangeTextEditorSelection((e) => this.cursorMoved(e.textEditor)),
      vscode.window.onDidChangeActiveTextEditor((e) => e && this.cursorMoved(e)),
    );
  }

  private cursorTimer: NodeJS.Timeout | undefined;

  /**
   * Sets `lambdaLs.cursorFunction` to `handler`, `callable` or nothing, from the server's code
   * actions at the cursor, so the editor menu names what Deploy will do there.
   */
  private cursorMoved(editor: vscode.TextEditor): void {
    if (editor.document.languageId !== "python" || editor.document.uri.scheme !== "file") return;
    clearTimeout(this.cursorTimer);
    this.cursorTimer = setTimeout(() => void this.updateCursorFunction(editor), 150);
  }

  private async updateCursorFunction(editor: vscode.TextEditor): Promise<void> {
    const client = this.client;
    if (!client?.isRunning()) return;
    const pos = editor.selection.active;
    let kind = "";
    try {
      const actions =
        (await client.sendRequest(CodeActionRequest.type, {
          textDocument: { uri: client.code2ProtocolConverter.asUri(editor.document.uri) },
          range: { start: { line: pos.line, character: pos.character }, end: { line: pos.line, character: pos.character } },
          context: { diagnostics: [] },
        })) ?? [];
      for (const a of actions) {
        const cmd = typeof a.command === "string" ? (a as Command) : a.command;
        if (cmd?.command !== SERVER.deploy) continue;
        const arg = cmd.arguments?.[0] as FunctionArgs | undefined;
        kind = arg?.callable ? "callable" : "handler";
      }
    } catch {
      // Leave the menu as it was.
      return;
    }
    await vscode.commands.executeCommand("setContext", "lambdaLs.cursorFunction", kind);
  }

  // -------------------------------------------------------------------------------------------
  // The server

  /** The profile to ask the server for (empty: the server's own order). */
  private profileSetting(): string {
    return effectiveProfile(
      vscode.workspace.getConfiguration("lambdaLs").get("profile"),
      vscode.workspace.getConfiguration("aws").get("profile"),
    );
  }

  async start(): Promise<void> {
    this.setState({ state: "starting" });
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    ensureExecutable(bundledPath(this.context.extensionPath, process.platform));
    const resolved = resolveServerPath({
      setting: vscode.workspace.getConfiguration("lambdaLs").get<string>("server.path"),
      extensionPath: this.context.extensionPath,
      platform: process.platform,
      workspaceFolder: folder,
      home: os.homedir(),
      envPath: process.env.PATH,
      isExecutable,
    });
    if ("error" in resolved) {
      return this.failed(resolved.error);
    }
    this.serverOutput.appendLine(`starting ${resolved.path} (${resolved.source})`);
    const serverOptions: ServerOptions = {
      command: resolved.path,
      args: ["lsp"],
      options: { env: process.env },
    };
    const profile = this.profileSetting();
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file", language: "python" }],
      outputChannel: this.serverOutput,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: profile ? { profile } : {},
      middleware: {
        workspace: {
          // The server pulls the `lambdaLs` section; answer with the effective profile so the
          // Toolkit's choice applies when `lambdaLs.profile` is empty.
          configuration: async (params, token, next) => {
            const result = await next(params, token);
            if (!Array.isArray(result)) return result;
            return params.items.map((item, i) =>
              item.section === "lambdaLs"
                ? { ...(result[i] ?? {}), profile: this.profileSetting() }
                : result[i],
            );
          },
        },
        // Lenses and code actions carry the server's command ids; run deploys and invokes through
        // the extension so they get the notification progress, the output and the trust check.
        executeCommand: async (command, args, next) => {
          const arg = (args?.[0] ?? {}) as FunctionArgs;
          switch (command) {
            case SERVER.deploy:
              return this.deploy(arg);
            case SERVER.invoke:
              return this.invoke(arg);
            case SERVER.logs:
              return this.logs(arg);
            case SERVER.debug:
              return this.debug(arg);
            default:
              return next(command, args);
          }
        },
      },
    };
    const client = new LanguageClient("lambdaLs", "Lambda Language Server", serverOptions, clientOptions);
    client.registerFeature(confirmDeployFeature);
    client.onRequest("lambdaLs/confirmDeploy", (q: DeployQuestion) => this.confirmDeploy(q));
    client.onNotification("lambdaLs/debugReady", (r: DebugReady) => this.attach(r));
    client.onNotification("lambdaLs/profileChanged", (p: ProfileInfo) => {
      this.setState({ state: "running", profile: p });
    });
    client.onDidChangeState((e) => {
      if (e.newState === State.Stopped && this.client === client && this.state.state !== "failed") {
        this.setState({ state: "failed", message: "the language server stopped" });
      } else if (e.newState === State.Running && this.state.state !== "running") {
        this.setState({ state: "running" });
      }
    });
    this.client = client;
    try {
      await client.start();
    } catch (e) {
      this.client = undefined;
      return this.failed(`${resolved.path} could not be started (${rpcError(e).message})`);
    }
    if (this.state.state !== "running") this.setState({ state: "running" });
    this.decorations.refreshVisible();
    // The editor open before the server started: name its Deploy menu entry too.
    const active = vscode.window.activeTextEditor;
    if (active) this.cursorMoved(active);
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      try {
        await client.stop(5000);
      } catch {
        // Already gone.
      }
    }
  }

  private async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private failed(message: string): void {
    this.setState({ state: "failed", message });
    this.serverOutput.appendLine(`lambda-ls: ${message}`);
    void this.showStartError();
  }

  private async showStartError(): Promise<void> {
    if (this.state.state !== "failed") return;
    const choice = await vscode.window.showErrorMessage(
      `Lambda: the lambda-ls language server cannot be started: ${this.state.message}.`,
      "Open Settings",
      "Show Log",
    );
    if (choice === "Open Settings") {
      await vscode.commands.executeCommand("workbench.action.openSettings", "lambdaLs.server.path");
    } else if (choice === "Show Log") {
      this.serverOutput.show(true);
    }
  }

  private configurationChanged(e: vscode.ConfigurationChangeEvent): void {
    if (e.affectsConfiguration("lambdaLs.server.path")) {
      void this.restart();
      return;
    }
    if (e.affectsConfiguration("lambdaLs.profile") || e.affectsConfiguration("aws.profile")) {
      const client = this.client;
      if (client?.isRunning()) {
        void client.sendNotification(DidChangeConfigurationNotification.type, {
          settings: { lambdaLs: { profile: this.profileSetting() } },
        });
      }
    }
  }

  private setState(s: ServerState): void {
    this.state = s;
    this.render();
  }

  private render(): void {
    this.status.text = statusText(this.state);
    this.status.tooltip = statusTooltip(this.state);
    this.status.command = this.state.state === "failed" ? "lambdaLs.restartServer" : "lambdaLs.selectProfile";
    this.status.backgroundColor =
      this.state.state === "failed" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  /** The running client, or an error the user sees. */
  private ready(): LanguageClient {
    const client = this.client;
    if (!client || !client.isRunning()) {
      const why = this.state.state === "failed" ? this.state.message : "it is still starting";
      throw new UserError(`the lambda-ls language server is not running (${why})`);
    }
    return client;
  }

  private async execute<T>(command: string, arg: object, workDoneToken?: string): Promise<T> {
    return (await this.ready().sendRequest(ExecuteCommandRequest.type, {
      command,
      arguments: [arg],
      workDoneToken,
    })) as T;
  }

  /** The server's inlay hints for a document (results of invokes). */
  private async serverHints(doc: vscode.TextDocument): Promise<ServerHint[]> {
    const client = this.client;
    if (!client?.isRunning()) return [];
    const last = doc.lineAt(doc.lineCount - 1).range.end;
    const hints = await client.sendRequest(InlayHintRequest.type, {
      textDocument: { uri: client.code2ProtocolConverter.asUri(doc.uri) },
      range: { start: { line: 0, character: 0 }, end: { line: last.line, character: last.character } },
    });
    return (hints ?? []).map((h) => ({
      line: h.position.line,
      label: hintLabelText(h.label),
      tooltip: typeof h.tooltip === "string" ? h.tooltip : h.tooltip?.value,
    }));
  }

  // -------------------------------------------------------------------------------------------
  // Deploy

  private async deploy(args: FunctionArgs): Promise<DeployOutcome | undefined> {
    if (!vscode.workspace.isTrusted) {
      const choice = await vscode.window.showWarningMessage(
        "Lambda: deploying is disabled in an untrusted workspace, because it packages and runs this workspace's code.",
        "Manage Workspace Trust",
      );
      if (choice) await vscode.commands.executeCommand("workbench.trust.manage");
      return undefined;
    }
    // The server packages the saved file.
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === args.uri);
    if (doc?.isDirty) await doc.save();
    const token = `lambdaLs-deploy-${randomUUID()}`;
    try {
      const outcome = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Lambda: deploying ${args.function}`, cancellable: true },
        async (progress, cancel) => {
          const client = this.ready();
          const sub = client.onProgress(WorkDoneProgress.type, token, (v) => {
            if (v.kind !== "end" && v.message) progress.report({ message: v.message });
          });
          const onCancel = cancel.onCancellationRequested(() => {
            void client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
          });
          try {
            return await this.execute<DeployOutcome>(SERVER.deploy, args, token);
          } finally {
            sub.dispose();
            onCancel.dispose();
          }
        },
      );
      this.output.append(deployOutput(outcome));
      void vscode.window.setStatusBarMessage(`$(check) ${deploySummary(outcome)}`, 10000);
      void vscode.window.showInformationMessage(`Lambda: ${deploySummary(outcome)}`, "Invoke", "Show Output").then((c) => {
        if (c === "Invoke") void this.invoke({ uri: args.uri, function: args.function, name: outcome.function_name });
        else if (c === "Show Output") this.output.show(true);
      });
      return outcome;
    } catch (e) {
      this.reportFailure(`deploy ${args.function}`, e);
      return undefined;
    }
  }

  /** The deploy question as a modal dialog: it cannot be missed, and closing it is Cancel. */
  private async confirmDeploy(q: DeployQuestion): Promise<{ deploy: boolean }> {
    const choice = await vscode.window.showWarningMessage(
      q.message,
      {
        modal: true,
        detail: `Account: ${q.account}\nRegion: ${q.region}\nProfile: ${q.profile}\n\nAsked once per profile each session.`,
      },
      "Deploy",
    );
    return { deploy: choice === "Deploy" };
  }

  private async deployHandlerAtCursor(uri?: vscode.Uri): Promise<void> {
    const at = await this.functionAtCursor(uri, SERVER.deploy, "deploy");
    if (at) await this.deploy(at);
  }

  /** Explorer: pick one of the file's deployable functions, as the server's lenses list them. */
  private async deployFile(uri?: vscode.Uri): Promise<void> {
    const target = uri ?? vscode.window.activeTextEditor?.document.uri;
    if (!target || target.scheme !== "file" || !target.fsPath.endsWith(".py")) {
      void vscode.window.showInformationMessage("Lambda: choose a Python file to deploy from.");
      return;
    }
    try {
      this.ready();
      const doc = await vscode.workspace.openTextDocument(target);
      let deployable = await this.deployableFunctions(doc);
      if (!deployable.length) {
        // The server may not have seen the file open yet.
        await sleep(500);
        deployable = await this.deployableFunctions(doc);
      }
      if (!deployable.length) {
        void vscode.window.showInformationMessage(
          `Lambda: ${path.basename(target.fsPath)} has no function to deploy (handlers take (event, context); other public functions deploy as callables).`,
        );
        return;
      }
      const items = deployable.map((d) => ({
        label: d.args.function,
        description: d.args.callable ? "callable: the event carries its arguments" : "handler (event, context)",
        detail: `line ${d.line + 1}`,
        args: d.args,
      }));
      const picked =
        items.length === 1
          ? items[0]
          : await vscode.window.showQuickPick(items, {
              title: `Deploy a function of ${path.basename(target.fsPath)} as Lambda`,
              placeHolder: "Function to deploy",
            });
      if (picked) await this.deploy(picked.args);
    } catch (e) {
      this.reportFailure("deploy", e);
    }
  }

  private async deployableFunctions(doc: vscode.TextDocument): Promise<{ line: number; args: FunctionArgs }[]> {
    const lenses =
      (await vscode.commands.executeCommand<vscode.CodeLens[]>("vscode.executeCodeLensProvider", doc.uri)) ?? [];
    const seen = new Set<string>();
    const out: { line: number; args: FunctionArgs }[] = [];
    for (const lens of lenses) {
      if (lens.command?.command !== SERVER.deploy) continue;
      const args = lens.command.arguments?.[0] as FunctionArgs | undefined;
      if (!args?.function || seen.has(args.function)) continue;
      seen.add(args.function);
      out.push({ line: lens.range.start.line, args });
    }
    return out.sort((a, b) => a.line - b.line);
  }

  /**
   * The server's arguments for `command` on the function at the cursor, from its code actions
   * there: the server decides what is deployable.
   */
  private async functionAtCursor(uri: vscode.Uri | undefined, command: string, verb: string): Promise<FunctionArgs | undefined> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || (uri && editor.document.uri.toString() !== uri.toString())) {
      void vscode.window.showInformationMessage(`Lambda: open a Python file and put the cursor in a function to ${verb} it.`);
      return undefined;
    }
    try {
      this.ready();
    } catch (e) {
      this.reportFailure(verb, e);
      return undefined;
    }
    const doc = editor.document;
    const pos = editor.selection.active;
    for (let attempt = 0; attempt < 3; attempt++) {
      const actions =
        (await vscode.commands.executeCommand<(vscode.CodeAction | vscode.Command)[]>(
          "vscode.executeCodeActionProvider",
          doc.uri,
          new vscode.Range(pos, pos),
        )) ?? [];
      for (const a of actions) {
        const cmd = isCommand(a) ? a : a.command;
        const arg = cmd?.arguments?.[0] as FunctionArgs | undefined;
        if (cmd?.command === command && arg?.uri) return { ...arg };
      }
      // Nothing yet: the server may still be reading a file that was just opened.
      if (attempt < 2) await sleep(300);
    }
    void vscode.window.showInformationMessage(
      `Lambda: put the cursor inside a top-level function to ${verb} it (functions whose name starts with _ are not deployed).`,
    );
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Invoke

  private async invokeAtCursor(uri: vscode.Uri | undefined, choose: boolean): Promise<void> {
    const at = await this.functionAtCursor(uri, SERVER.invoke, "invoke");
    if (!at) return;
    // The code action's `payload: {}` is the server's default; the extension prefers the event
    // last sent to this function, else lets the server pick `events/<function>.json` or `{}`.
    const { payload: _ignored, eventFile: _file, ...target } = at;
    if (choose) {
      const event = await this.pickEvent(target);
      if (!event) return;
      await this.invoke({ ...target, ...event });
    } else {
      await this.invoke(target);
    }
  }

  /** QuickPick of saved `events/<function>*.json`, the last event, and "Enter JSON…". */
  private async pickEvent(target: FunctionArgs): Promise<{ payload?: unknown; eventFile?: string } | undefined> {
    const file = vscode.Uri.parse(target.uri);
    const root = vscode.workspace.getWorkspaceFolder(file)?.uri.fsPath;
    const files = await findEventFiles((args) => this.execute<SavedEvents>(SERVER.eventFiles, args), target, root);
    const key = lastEventKey(target.uri, target.function);
    const last = this.context.workspaceState.get<LastEvent>(key);
    // No saved event: the server's catalog of sample events, the annotated trigger first.
    const triggers = files.length ? [] : await this.sampleEvents(target);
    const items = eventPickItems(files, last, triggers);
    const picked = await vscode.window.showQuickPick(items, {
      title: `Invoke ${target.function} with event`,
      placeHolder: files.length
        ? "A saved event, or type one"
        : `No events/${target.function}*.json yet: a sample event (saved there), or type one`,
    });
    if (!picked) return undefined;
    let choice: EventChoice = picked.choice;
    if (choice.kind === "template") {
      // The server writes the template as a new events file and opens it.
      try {
        const created = await this.execute<{ path: string }>(SERVER.createEvent, { ...target, trigger: choice.trigger });
        choice = { kind: "file", path: created.path };
      } catch (e) {
        this.reportFailure("create the sample event", e);
        return undefined;
      }
    }
    if (choice.kind === "enter") {
      const text = await vscode.window.showInputBox({
        title: `Event for ${target.function}`,
        prompt: "One JSON value: the event the function receives",
        value: last?.kind === "json" ? last.text : "{}",
        validateInput: validateJson,
        ignoreFocusOut: true,
      });
      if (text === undefined) return undefined;
      choice = { kind: "json", text };
    }
    const remembered: LastEvent = choice.kind === "file" ? { kind: "file", path: choice.path } : { kind: "json", text: choice.text };
    await this.context.workspaceState.update(key, remembered);
    return toEvent(remembered);
  }

  private async sampleEvents(target: FunctionArgs): Promise<Trigger[]> {
    try {
      const listed = await this.execute<{ triggers: Trigger[] }>(SERVER.listEvents, { uri: target.uri, function: target.function });
      return listed.triggers;
    } catch {
      // An older server without the catalog: the picker still offers "Enter JSON…".
      return [];
    }
  }

  // -------------------------------------------------------------------------------------------
  // Open Deployed Function…

  /** Lists the selected target's functions, pulls the chosen one into a workspace folder. */
  private async openDeployedFunction(): Promise<void> {
    const folders = vscode.workspace.workspaceFolders ?? [];
    if (!folders.length) {
      void vscode.window.showInformationMessage("Lambda: open a folder first; a deployed function is pulled into it.");
      return;
    }
    try {
      const functions = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: "Lambda: listing functions" },
        () => this.execute<DeployedFunction[]>(SERVER.listFunctions, {}),
      );
      if (!functions.length) {
        void vscode.window.showInformationMessage("Lambda: the selected profile has no functions to open.");
        return;
      }
      const picked = await vscode.window.showQuickPick(functionPickItems(functions), {
        title: "Lambda: open a deployed function",
        placeHolder: "Its code and a lambda.toml go into a new folder of the workspace",
        matchOnDescription: true,
      });
      if (!picked) return;
      const folder =
        folders.length === 1 ? folders[0] : await vscode.window.showWorkspaceFolderPick({ placeHolder: `Folder to pull ${picked.name} into` });
      if (!folder) return;
      const root = folder.uri.fsPath;
      const dir = pullDir(root, picked.name, (p) => fs.existsSync(p));
      const pulled = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Lambda: pulling ${picked.name}` },
        () => this.execute<Pulled>(SERVER.pull, { name: picked.name, dir }),
      );
      const summary = pullSummary(pulled, root);
      this.output.appendLine(summary.line);
      if (summary.warning) void vscode.window.showWarningMessage(`Lambda: ${summary.warning}`);
      else void vscode.window.setStatusBarMessage(`$(check) ${summary.line}`, 15000);
    } catch (e) {
      this.reportFailure("open a deployed function", e);
    }
  }

  private async invoke(args: FunctionArgs): Promise<InvokeOutcome | undefined> {
    let request: FunctionArgs = { ...args };
    if (request.payload === undefined && request.eventFile === undefined && request.uri && request.function) {
      const last = this.context.workspaceState.get<LastEvent>(lastEventKey(request.uri, request.function));
      if (last && (last.kind === "json" || fs.existsSync(last.path))) request = { ...request, ...toEvent(last) };
    }
    const label = request.function ?? request.name ?? "function";
    try {
      const outcome = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: `Lambda: invoking ${label}` },
        () => this.execute<InvokeOutcome>(SERVER.invoke, request),
      );
      this.output.append(invokeOutput(outcome, describeEvent(request)));
      if (outcome.function_error) {
        void vscode.window.showWarningMessage(`Lambda: ${outcome.function} raised ${errorLine(outcome)}`, "Show Output").then((c) => {
          if (c) this.output.show(true);
        });
      } else {
        void vscode.window.setStatusBarMessage(`$(check) ${invokeSummary(outcome, 80)}`, 15000);
      }
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === request.uri);
      if (doc) this.decorations.schedule(doc, 0);
      return outcome;
    } catch (e) {
      this.reportFailure(`invoke ${label}`, e);
      return undefined;
    }
  }

  /** `lambda.debug`: deploys, then waits while the debugger attached by `attach` runs the event. */
  private async debug(args: FunctionArgs): Promise<InvokeOutcome | undefined> {
    const label = args.function ?? "function";
    try {
      const outcome = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: `Lambda: debugging ${label}` },
        () => this.execute<InvokeOutcome>(SERVER.debug, args),
      );
      this.output.append(invokeOutput(outcome, describeEvent(args)));
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === args.uri);
      if (doc) this.decorations.schedule(doc, 0);
      return outcome;
    } catch (e) {
      this.reportFailure(`debug ${label}`, e);
      return undefined;
    }
  }

  /** Attaches VS Code's debugger to the debugpy endpoint the server reported. */
  private async attach(ready: DebugReady): Promise<void> {
    const root = ready.pathMappings[0]?.localRoot;
    const folder = root ? vscode.workspace.getWorkspaceFolder(vscode.Uri.file(root)) : undefined;
    const started = await vscode.debug.startDebugging(folder, attachConfiguration(ready));
    if (!started) {
      void vscode.window.showErrorMessage(
        `Lambda: cannot attach the debugger to ${ready.host}:${ready.port}; the invocation runs without it after ${Math.round(ready.attachWaitMs / 1000)} s.`,
      );
    }
  }

  private async debugAtCursor(uri?: vscode.Uri): Promise<void> {
    const at = await this.functionAtCursor(uri, SERVER.debug, "debug");
    if (at) await this.debug(at);
  }

  private async logs(args: FunctionArgs): Promise<unknown> {
    try {
      const result = await this.execute<{ name: string; logTail: string | null; failed: boolean }>(SERVER.logs, args);
      this.output.appendLine(
        result.logTail
          ? `--- log tail of the last invoke of ${result.name}${result.failed ? " (failed)" : ""} ---\n${result.logTail.replace(/\s+$/, "")}`
          : `${result.name}: no invoke in this session yet, so no log tail`,
      );
      this.output.show(true);
      return result;
    } catch (e) {
      this.reportFailure("logs", e);
      return undefined;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Profiles

  private async pickProfile(): Promise<void> {
    try {
      const listing = await this.execute<ProfileListing>(SERVER.listProfiles, {});
      const picked = await vscode.window.showQuickPick(profileItems(listing), {
        title: "Lambda: deploy and invoke with AWS profile",
        placeHolder: "Profiles from ~/.aws/config and ~/.aws/credentials, or local",
        matchOnDescription: true,
      });
      if (!picked) return;
      const chosen = await this.execute<ProfileInfo>(SERVER.selectProfile, { profile: picked.name });
      this.setState({ state: "running", profile: chosen });
      const config = vscode.workspace.getConfiguration("lambdaLs");
      const inspected = config.inspect<string>("profile");
      const target =
        inspected?.workspaceFolderValue !== undefined || inspected?.workspaceValue !== undefined
          ? vscode.ConfigurationTarget.Workspace
          : vscode.ConfigurationTarget.Global;
      await config.update("profile", picked.name, target);
    } catch (e) {
      this.reportFailure("select a profile", e);
    }
  }

  // -------------------------------------------------------------------------------------------

  /**
   * A failed request: the server has already shown its sentence (window/showMessage), so only
   * log it; a cancel is quiet; anything else (no server) is shown here.
   */
  private reportFailure(what: string, e: unknown): void {
    const { code, message } = rpcError(e);
    if (code === RPC.requestCancelled) {
      this.output.appendLine(`${what}: cancelled`);
      void vscode.window.setStatusBarMessage(`Lambda: ${what} cancelled`, 5000);
      return;
    }
    this.output.appendLine(`${what} failed: ${message}`);
    if (e instanceof UserError || code === undefined) {
      void vscode.window.showErrorMessage(`Lambda: cannot ${what}: ${message}.`, "Show Output").then((c) => {
        if (c) this.output.show(true);
      });
    }
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
    this.decorations.dispose();
    this.status.dispose();
    this.output.dispose();
    this.serverOutput.dispose();
  }
}

class UserError extends Error {}

function toEvent(last: LastEvent): { payload?: unknown; eventFile?: string } {
  return last.kind === "file" ? { eventFile: last.path } : { payload: JSON.parse(last.text) };
}

function isCommand(a: vscode.CodeAction | vscode.Command): a is vscode.Command {
  return typeof (a as vscode.Command).command === "string";
}

function isExecutable(p: string): boolean {
  try {
    const st = fs.statSync(p);
    if (!st.isFile()) return false;
    if (process.platform === "win32") return true;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Unzipping a .vsix may drop the executable bit of the bundled binary: put it back. */
function ensureExecutable(p: string): void {
  if (process.platform === "win32" || !fs.existsSync(p) || isExecutable(p)) return;
  try {
    fs.chmodSync(p, 0o755);
  } catch {
    // resolveServerPath reports it.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
