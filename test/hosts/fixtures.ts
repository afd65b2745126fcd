/**
 * Host fixture files and where each goes in a temporary home (Linux layout).
 */

import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type HostContext, hostContext } from "../../src/hosts/hosts.ts";

export const FIXTURE_DIR = join(import.meta.dir, "..", "fixtures", "hosts");
export const PROXY = "/opt/mcp-mux/bin/mux-proxy";
export const RUNTIME = "/run/mux-test";

/** Fixture file → host and path under the temporary home. */
export const HOST_FIXTURES = [
  { fixture: "claude_desktop_config.json", host: "claude-desktop", path: ".config/Claude/claude_desktop_config.json" },
  { fixture: "claude.json", host: "claude-code", path: ".claude.json" },
  { fixture: "mcp.json.project", host: "claude-code", path: "proj/.mcp.json", project: true },
  { fixture: "cursor-mcp.json", host: "cursor", path: ".cursor/mcp.json" },
  { fixture: "vscode-mcp.json", host: "vscode", path: ".config/Code/User/mcp.json" },
  { fixture: "codex-config.toml", host: "codex", path: ".codex/config.toml" },
  { fixture: "windsurf-mcp_config.json", host: "windsurf", path: ".codeium/windsurf/mcp_config.json" },
  { fixture: "zed-settings.json", host: "zed", path: ".config/zed/settings.json" },
  { fixture: "gemini-settings.json", host: "gemini", path: ".gemini/settings.json" },
  {
    fixture: "cline_mcp_settings.json",
    host: "cline",
    path: ".config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
  },
  {
    fixture: "roo_mcp_settings.json",
    host: "roo",
    path: ".config/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
  },
  { fixture: "opencode.jsonc", host: "opencode", path: ".config/opencode/opencode.jsonc" },
  { fixture: "continue-config.yaml", host: "continue", path: ".continue/config.yaml" },
  { fixture: "goose-config.yaml", host: "goose", path: ".config/goose/config.yaml" },
  { fixture: "junie-mcp.json", host: "junie", path: ".junie/mcp/mcp.json" },
  { fixture: "jetbrains-mcp.json", host: "jetbrains", path: ".ai/mcp/mcp.json" },
] as const;

export type HostFixture = (typeof HOST_FIXTURES)[number];

/** A temporary home holding the given fixtures (default: all), and a context pointing at it. */
export function fixtureHome(
  fixtures: readonly HostFixture[] = HOST_FIXTURES,
  extraEnv: Record<string, string> = {},
): { home: string; ctx: HostContext; stateDir: string; configFile: string; pathOf(f: HostFixture): string } {
  const home = mkdtempSync(join(tmpdir(), "mux-home-"));
  for (const f of fixtures) {
    const target = join(home, f.path);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(FIXTURE_DIR, f.fixture), target);
  }
  const env = { HOME: home, XDG_RUNTIME_DIR: RUNTIME, PATH: process.env.PATH ?? "", ...extraEnv };
  const ctx = hostContext(env, { platform: "linux", project: join(home, "proj"), systemRoot: join(home, "sys") });
  return {
    home,
    ctx,
    stateDir: join(home, "state"),
    configFile: join(home, ".config", "mcp-mux", "config.yaml"),
    pathOf: (f) => join(home, f.path),
  };
}
