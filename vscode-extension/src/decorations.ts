// The invoke result at the end of the handler's `def` line when VS Code hides inlay hints: the
// server's own inlay hints, drawn as after-line decorations.
import * as vscode from "vscode";
import { hintLabelText, inlayHintsHidden } from "./format";

export interface ServerHint {
  line: number;
  label: string;
  tooltip?: string;
}

export class ResultDecorations implements vscode.Disposable {
  private readonly type = vscode.window.createTextEditorDecorationType({
    after: {
      margin: "0 0 0 2em",
      color: new vscode.ThemeColor("editorInlayHint.foreground"),
      backgroundColor: new vscode.ThemeColor("editorInlayHint.background"),
      fontStyle: "italic",
    },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly fetchHints: (doc: vscode.TextDocument) => Promise<ServerHint[]>) {
    this.subscriptions.push(
      vscode.window.onDidChangeVisibleTextEditors((editors) => editors.forEach((e) => this.schedule(e.document, 0))),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length) this.schedule(e.document, 400);
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration("editor.inlayHints")) this.refreshVisible();
      }),
    );
  }

  /** Whether the fallback applies to this document. */
  static needed(doc: vscode.TextDocument): boolean {
    const setting = vscode.workspace.getConfiguration("editor", doc).get("inlayHints.enabled");
    return inlayHintsHidden(setting);
  }

  refreshVisible(): void {
    for (const e of vscode.window.visibleTextEditors) this.schedule(e.document, 0);
  }

  schedule(doc: vscode.TextDocument, delayMs: number): void {
    if (doc.languageId !== "python" || doc.uri.scheme !== "file") return;
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void this.refresh(doc);
      }, delayMs),
    );
  }

  async refresh(doc: vscode.TextDocument): Promise<void> {
    const editors = vscode.window.visibleTextEditors.filter((e) => e.document === doc);
    if (!editors.length) return;
    let options: vscode.DecorationOptions[] = [];
    if (ResultDecorations.needed(doc)) {
      let hints: ServerHint[] = [];
      try {
        hints = await this.fetchHints(doc);
      } catch {
        hints = [];
      }
      options = hints
        .filter((h) => h.line < doc.lineCount)
        .map((h) => {
          const end = doc.lineAt(h.line).range.end;
          return {
            range: new vscode.Range(end, end),
            hoverMessage: h.tooltip ? new vscode.MarkdownString().appendCodeblock(h.tooltip, "json") : undefined,
            renderOptions: { after: { contentText: h.label } },
          };
        });
    }
    for (const e of editors) e.setDecorations(this.type, options);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.subscriptions.forEach((s) => s.dispose());
    this.type.dispose();
  }
}

export { hintLabelText };
