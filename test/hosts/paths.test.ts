/** Host config locations per OS and the environment variables that move them. */

import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type HostContext, hostById, hostContext } from "../../src/hosts/hosts.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function temp(): string {
  const d = mkdtempSync(join(tmpdir(), "mux-paths-"));
  dirs.push(d);
  return d;
}

const paths = (host: string, ctx: HostContext) =>
  hostById(host)
    ?.files(ctx)
    .map((f) => f.path) ?? [];
const ctxOf = (env: Record<string, string>, platform: NodeJS.Platform) =>
  hostContext(env, { platform, project: "/work/proj" });

test("Linux defaults follow HOME and XDG_CONFIG_HOME", () => {
  const linux = ctxOf({ HOME: "/home/u" }, "linux");
  expect(paths("claude-desktop", linux)).toEqual(["/home/u/.config/Claude/claude_desktop_config.json"]);
  expect(paths("claude-code", linux)).toEqual(["/home/u/.claude.json", "/work/proj/.mcp.json"]);
  expect(paths("cursor", linux)).toEqual(["/home/u/.cursor/mcp.json", "/work/proj/.cursor/mcp.json"]);
  expect(paths("codex", linux)).toEqual(["/home/u/.codex/config.toml", "/work/proj/.codex/config.toml"]);
  expect(paths("windsurf", linux)).toEqual(["/home/u/.codeium/windsurf/mcp_config.json"]);
  expect(paths("zed", linux)).toEqual(["/home/u/.config/zed/settings.json", "/work/proj/.zed/settings.json"]);
  expect(paths("gemini", linux)).toEqual(["/home/u/.gemini/settings.json", "/work/proj/.gemini/settings.json"]);
  expect(paths("continue", linux)).toEqual(["/home/u/.continue/config.yaml"]);
  expect(paths("goose", linux)).toEqual(["/home/u/.config/goose/config.yaml"]);
  expect(paths("opencode", linux).slice(0, 3)).toEqual([
    "/home/u/.config/opencode/opencode.json",
    "/home/u/.config/opencode/opencode.jsonc",
    "/home/u/.config/opencode/config.json",
  ]);
  expect(paths("vscode", linux)).toContain("/home/u/.config/Code/User/mcp.json");
  expect(paths("vscode", linux)).toContain("/home/u/.config/VSCodium/User/mcp.json");
  expect(paths("vscode", linux)).toContain("/work/proj/.vscode/mcp.json");
  expect(paths("cline", linux)).toContain(
    "/home/u/.config/Cursor/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
  );
  expect(paths("cline", linux)).toContain("/home/u/.cline/data/settings/cline_mcp_settings.json");
  expect(paths("roo", linux)).toContain(
    "/home/u/.config/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
  );
  expect(paths("junie", linux)[0]).toBe("/home/u/.junie/mcp/mcp.json");
  expect(paths("copilot", linux)).toEqual(["/home/u/.copilot/mcp-config.json"]);

  const xdg = ctxOf({ HOME: "/home/u", XDG_CONFIG_HOME: "/xdg" }, "linux");
  expect(paths("claude-desktop", xdg)).toEqual(["/xdg/Claude/claude_desktop_config.json"]);
  expect(paths("zed", xdg)[0]).toBe("/xdg/zed/settings.json");
  expect(paths("goose", xdg)).toEqual(["/xdg/goose/config.yaml"]);
  expect(paths("opencode", xdg)[0]).toBe("/xdg/opencode/opencode.json");
  expect(paths("vscode", xdg)).toContain("/xdg/Code/User/mcp.json");
});

test("variables that move host files", () => {
  const env = {
    HOME: "/home/u",
    CLAUDE_CONFIG_DIR: "/cc",
    CODEX_HOME: "/codex",
    GOOSE_PATH_ROOT: "/goose",
    FLATPAK_XDG_CONFIG_HOME: "/flatpak",
    CLINE_DIR: "/cline",
    COPILOT_HOME: "/copilot",
    OPENCODE_CONFIG: "/oc/custom.json",
    GEMINI_CLI_HOME: "/gem",
  };
  const ctx = ctxOf(env, "linux");
  expect(paths("claude-code", ctx)[0]).toBe("/cc/.claude.json");
  expect(paths("codex", ctx)[0]).toBe("/codex/config.toml");
  expect(paths("goose", ctx)).toEqual(["/goose/config/config.yaml"]);
  expect(paths("zed", ctx)[0]).toBe("/flatpak/zed/settings.json");
  expect(paths("cline", ctx)).toContain("/cline/data/settings/cline_mcp_settings.json");
  expect(paths("copilot", ctx)).toEqual(["/copilot/mcp-config.json"]);
  expect(paths("opencode", ctx)).toContain("/oc/custom.json");
  expect(paths("gemini", ctx)[0]).toBe("/gem/.gemini/settings.json");
});

test("macOS: Application Support for Claude Desktop and VS Code, ~/.config for Zed", () => {
  const mac = ctxOf({ HOME: "/Users/u" }, "darwin");
  expect(paths("claude-desktop", mac)).toEqual([
    "/Users/u/Library/Application Support/Claude/claude_desktop_config.json",
  ]);
  expect(paths("zed", mac)[0]).toBe("/Users/u/.config/zed/settings.json");
  expect(paths("vscode", mac)).toContain("/Users/u/Library/Application Support/Code/User/mcp.json");
  expect(paths("goose", mac)).toEqual(["/Users/u/.config/goose/config.yaml"]);
});

test("Windows: the MSIX Claude Desktop package wins over %APPDATA%; several packages need a human", () => {
  const root = temp();
  const env = {
    USERPROFILE: join(root, "u"),
    APPDATA: join(root, "Roaming"),
    LOCALAPPDATA: join(root, "Local"),
  };
  const win = (p: string) => p.replaceAll("/", "\\");
  const classic = hostById("claude-desktop")?.files(ctxOf(env, "win32"))[0];
  expect(classic?.path).toBe(win(join(root, "Roaming", "Claude", "claude_desktop_config.json")));
  mkdirSync(join(root, "Local", "Packages", "Claude_pzs8sxrjxfjjc"), { recursive: true });
  const msix = hostById("claude-desktop")?.files(ctxOf(env, "win32"))[0];
  expect(msix?.path).toBe(
    win(
      join(
        root,
        "Local",
        "Packages",
        "Claude_pzs8sxrjxfjjc",
        "LocalCache",
        "Roaming",
        "Claude",
        "claude_desktop_config.json",
      ),
    ),
  );
  expect(msix?.assisted).toBeUndefined();
  mkdirSync(join(root, "Local", "Packages", "Claude_other"), { recursive: true });
  expect(hostById("claude-desktop")?.files(ctxOf(env, "win32"))[0]?.assisted).toContain("several Claude_* packages");
  const ctx = ctxOf(env, "win32");
  expect(paths("zed", ctx)[0]).toBe(win(join(root, "Roaming", "Zed", "settings.json")));
  expect(paths("goose", ctx)).toEqual([win(join(root, "Roaming", "Block", "goose", "config", "config.yaml"))]);
  expect(paths("claude-code", ctx)[0]).toBe(win(join(root, "u", ".claude.json")));
  expect(paths("vscode", ctx)).toContain(win(join(root, "Roaming", "Code", "User", "mcp.json")));
});

test("VS Code profiles are enumerated; settings.json `mcp` is read-only (VS Code migrates it)", () => {
  const home = temp();
  mkdirSync(join(home, ".config", "Code", "User", "profiles", "a1b2"), { recursive: true });
  const files = hostById("vscode")?.files(ctxOf({ HOME: home }, "linux")) ?? [];
  expect(files.map((f) => f.path)).toContain(join(home, ".config", "Code", "User", "profiles", "a1b2", "mcp.json"));
  const legacy = files.find((f) => f.path.endsWith("settings.json"));
  expect(legacy?.assisted).toContain("mcp.json");
  expect(legacy?.containers({})[0]?.container.path).toEqual(["mcp", "servers"]);
});
