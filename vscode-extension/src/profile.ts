// The profile the server deploys to, as the status bar and the picker show it. No `vscode` import:
// unit-tested on its own.

/** `lambdaLs/profileChanged` and the result of `lambda.selectProfile`. */
export interface ProfileInfo {
  profile: string;
  region: string | null;
  kind: string;
  /** Set by the server when the profile's credentials cannot be resolved right now. */
  credentialsError?: string | null;
}

/** One entry of `lambda.listProfiles`. */
export interface ListedProfile {
  name: string;
  region: string | null;
  kind: string;
  selected: boolean;
}

export interface ProfileListing {
  selected: string | null;
  profiles: ListedProfile[];
}

export type ServerState =
  | { state: "starting" }
  | { state: "running"; profile?: ProfileInfo }
  | { state: "failed"; message: string };

function isLocal(p: { kind: string; profile?: string; name?: string }): boolean {
  return p.kind === "local";
}

/** `$(cloud) lambda · dev · eu-west-1`, `$(cloud) lambda · local`. */
export function statusText(s: ServerState): string {
  switch (s.state) {
    case "starting":
      return "$(loading~spin) lambda";
    case "failed":
      return "$(error) lambda";
    case "running": {
      const p = s.profile;
      if (!p) return "$(cloud) lambda";
      if (isLocal(p)) return "$(cloud) lambda · local";
      const icon = p.credentialsError ? "$(warning)" : "$(cloud)";
      return p.region ? `${icon} lambda · ${p.profile} · ${p.region}` : `${icon} lambda · ${p.profile}`;
    }
  }
}

export function statusTooltip(s: ServerState): string {
  switch (s.state) {
    case "starting":
      return "lambda-ls is starting";
    case "failed":
      return `lambda-ls is not running: ${s.message}\nClick for details.`;
    case "running": {
      const p = s.profile;
      if (!p) return "Lambda: click to choose the AWS profile";
      if (isLocal(p)) {
        return "Lambda: deploying to the embedded local Lambda (profile local)\nClick to choose another AWS profile";
      }
      const region = p.region ?? "no region configured";
      const warning = p.credentialsError ? `\n⚠ Its credentials cannot be resolved: ${p.credentialsError}` : "";
      return `Lambda: deploying to AWS profile ${p.profile} (${kindLabel(p.kind)}), region ${region}${warning}\nClick to choose another AWS profile`;
    }
  }
}

/** How a profile gets its credentials, in words. */
export function kindLabel(kind: string): string {
  switch (kind) {
    case "assume-role":
      return "assume role";
    case "web-identity":
      return "web identity";
    case "sso":
      return "SSO";
    case "credential-process":
      return "credential process";
    case "static-keys":
      return "access keys";
    case "settings-only":
      return "settings only";
    case "local":
      return "embedded local Lambda";
    default:
      return kind;
  }
}

export interface ProfilePickItem {
  label: string;
  description: string;
  name: string;
  picked: boolean;
}

/** QuickPick rows: the profile's name, then its region and kind; the selected one first. */
export function profileItems(listing: ProfileListing): ProfilePickItem[] {
  const rows = listing.profiles.map((p) => ({
    label: p.name,
    description: [p.kind === "local" ? "on this machine" : (p.region ?? "no region"), kindLabel(p.kind)]
      .concat(p.selected ? ["current"] : [])
      .join(" · "),
    name: p.name,
    picked: p.selected,
  }));
  return rows.filter((r) => r.picked).concat(rows.filter((r) => !r.picked));
}

/**
 * The AWS Toolkit's `aws.profile` setting as a profile name. The Toolkit has stored both plain
 * names (`dev`) and connection ids (`profile:dev`); anything else is not a profile.
 */
export function toolkitProfileName(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const v = value.trim();
  if (!v) return undefined;
  if (v.startsWith("profile:")) return v.slice("profile:".length).trim() || undefined;
  return v.includes(":") ? undefined : v;
}

/**
 * The profile the extension asks the server for: `lambdaLs.profile` when set, else the Toolkit's
 * choice, else empty, which lets the server apply `AWS_PROFILE` → `default` → `local`.
 */
export function effectiveProfile(own: unknown, toolkit: unknown): string {
  if (typeof own === "string" && own.trim()) return own.trim();
  return toolkitProfileName(toolkit) ?? "";
}
