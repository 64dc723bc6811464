import { describe, expect, it } from "vitest";
import { effectiveProfile, profileItems, statusText, statusTooltip, toolkitProfileName } from "../src/profile";

describe("status bar", () => {
  it("shows the profile and its region", () => {
    expect(statusText({ state: "running", profile: { profile: "dev", region: "eu-west-1", kind: "sso" } })).toBe(
      "$(cloud) lambda · dev · eu-west-1",
    );
  });

  it("shows local alone for the embedded Lambda", () => {
    expect(statusText({ state: "running", profile: { profile: "local", region: null, kind: "local" } })).toBe(
      "$(cloud) lambda · local",
    );
    expect(statusTooltip({ state: "running", profile: { profile: "local", region: null, kind: "local" } })).toMatch(
      /embedded local Lambda/,
    );
  });

  it("leaves out a missing region", () => {
    expect(statusText({ state: "running", profile: { profile: "ci", region: null, kind: "static-keys" } })).toBe(
      "$(cloud) lambda · ci",
    );
    expect(statusTooltip({ state: "running", profile: { profile: "ci", region: null, kind: "static-keys" } })).toMatch(
      /no region configured/,
    );
  });

  it("warns when the profile's credentials cannot be resolved", () => {
    const profile = { profile: "sso-dev", region: "eu-west-1", kind: "sso", credentialsError: "the SSO session has expired" };
    expect(statusText({ state: "running", profile })).toBe("$(warning) lambda · sso-dev · eu-west-1");
    expect(statusTooltip({ state: "running", profile })).toContain("cannot be resolved: the SSO session has expired");
    expect(statusText({ state: "running", profile: { ...profile, credentialsError: null } })).toBe(
      "$(cloud) lambda · sso-dev · eu-west-1",
    );
  });

  it("says when the server is starting or failed", () => {
    expect(statusText({ state: "starting" })).toBe("$(loading~spin) lambda");
    expect(statusText({ state: "failed", message: "no binary" })).toBe("$(error) lambda");
    expect(statusTooltip({ state: "failed", message: "no binary" })).toContain("no binary");
    expect(statusText({ state: "running" })).toBe("$(cloud) lambda");
  });
});

describe("profile picker", () => {
  it("lists the selected profile first, with region and kind", () => {
    const items = profileItems({
      selected: "dev",
      profiles: [
        { name: "default", region: "us-east-1", kind: "static-keys", selected: false },
        { name: "dev", region: "eu-west-1", kind: "assume-role", selected: true },
        { name: "local", region: null, kind: "local", selected: false },
      ],
    });
    expect(items.map((i) => i.name)).toEqual(["dev", "default", "local"]);
    expect(items[0]).toMatchObject({ label: "dev", picked: true, description: "eu-west-1 · assume role · current" });
    expect(items[1].description).toBe("us-east-1 · access keys");
    expect(items[2].description).toBe("on this machine · embedded local Lambda");
  });

  it("shows a profile without region", () => {
    const [item] = profileItems({
      selected: null,
      profiles: [{ name: "x", region: null, kind: "sso", selected: false }],
    });
    expect(item.description).toBe("no region · SSO");
  });
});

describe("first selection", () => {
  it("prefers lambdaLs.profile", () => {
    expect(effectiveProfile("dev", "staging")).toBe("dev");
    expect(effectiveProfile("  dev ", undefined)).toBe("dev");
  });

  it("follows the AWS Toolkit's aws.profile when lambdaLs.profile is empty", () => {
    expect(effectiveProfile("", "staging")).toBe("staging");
    expect(effectiveProfile(undefined, "profile:staging")).toBe("staging");
  });

  it("is empty otherwise, so the server applies AWS_PROFILE, default, local", () => {
    expect(effectiveProfile("", undefined)).toBe("");
    expect(effectiveProfile(undefined, "")).toBe("");
    expect(effectiveProfile(undefined, 3)).toBe("");
  });

  it("ignores Toolkit connections that are not profiles", () => {
    expect(toolkitProfileName("sso:https://x.awsapps.com/start")).toBeUndefined();
    expect(toolkitProfileName("profile:")).toBeUndefined();
    expect(toolkitProfileName("dev")).toBe("dev");
  });
});
