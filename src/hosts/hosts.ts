/**
 * The host adapters: for each MCP host, where its config files are on each OS (with the
 * environment variables that move them), their format, where the servers sit, and the
 * entry shape. Everything is computed from an explicit `HostContext`, so tests point a whole
 * run at a temporary home.
 * @module
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { Container } from "./formats/document.ts";

/** Every host we know. */
export const HOST_IDS = [
  "claude-desktop",
  "claude-code",
  "cursor",
  "vscode",
  "codex",
  "windsurf",
  "zed",
  "gemini",
  "cline",
  "roo",
  "opencode",
  "continue",
  "goose",
  "junie",
  "copilot",
  "jetbrains",
] as const;

export type HostId = (typeof HOST_IDS)[number];

/** `user` files are rewired by default; `project` and `local` ones need `includeProject`. */
export type Scope = "user" | "project" | "local";

/** How a host spells an entry (see the field crosswalk in the host-config notes). */
export type Shape = "claude" | "vscode" | "cline" | "roo" | "zed" | "codex" | "opencode" | "continue" | "goose";

export type FileFormat = "json" | "jsonc" | "toml" | "yaml";

/** Where and how one host file is read. */
export interface HostContext {
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  home: string;
  /** Project directory for project-scoped files (default: the current directory). */
  project: string;
  /** Root of system-wide (admin) files such as Claude Code's managed settings (default `/`). */
  systemRoot: string;
}

/** One config file of one host. */
export interface HostFile {
  host: HostId;
  path: string;
  scope: Scope;
  format: FileFormat;
  shape: Shape;
  /** Plain `JSON.parse` hosts: the result must stay strict JSON. */
  strictJson: boolean;
  /** Where servers sit; may depend on the parsed file (Claude Code's per-project scopes). */
  containers(data: unknown): { container: Container; scope: Scope }[];
  /** Set when we only read this file and print instructions instead of writing it. */
  assisted?: string;
}

/** A host: its name, how to reload it, and its files on this machine. */
export interface HostAdapter {
  id: HostId;
  label: string;
  reload: string;
  files(ctx: HostContext): HostFile[];
}

/** The context of this process (`HOME`, platform, current directory). */
export function hostContext(
  env: Record<string, string | undefined> = process.env,
  options: { platform?: NodeJS.Platform; project?: string; systemRoot?: string } = {},
): HostContext {
  const platform = options.platform ?? process.platform;
  const home = (platform === "win32" ? env.USERPROFILE : env.HOME) ?? env.HOME ?? homedir();
  return {
    env,
    platform,
    home,
    project: resolve(options.project ?? process.cwd()),
    systemRoot: options.systemRoot ?? "/",
  };
}

/**
 * Admin policies that defeat a rewire, as warnings: Claude Code's managed settings allowing
 * MCP servers by command (a rewired entry runs mux-proxy), or a managed-mcp.json that makes
 * Claude Code ignore user and project servers altogether.
 */
export function policyWarnings(ctx: HostContext): string[] {
  const dir =
    ctx.platform === "darwin"
      ? join(ctx.systemRoot, "Library", "Application Support", "ClaudeCode")
      : ctx.platform === "win32"
        ? join(ctx.systemRoot, "ProgramData", "ClaudeCode")
        : join(ctx.systemRoot, "etc", "claude-code");
  const out: string[] = [];
  const settings = readJson(join(dir, "managed-settings.json"));
  const allowed = settings?.allowedMcpServers;
  if (Array.isArray(allowed) && allowed.some((a) => typeof a === "object" && a !== null && "serverCommand" in a))
    out.push(
      `Claude Code: ${join(dir, "managed-settings.json")} allows MCP servers by command (allowedMcpServers.serverCommand); ` +
        "rewired entries run mux-proxy and are blocked unless an admin allows it",
    );
  if (existsSync(join(dir, "managed-mcp.json")) || settings?.allowManagedMcpServersOnly === true)
    out.push(
      `Claude Code: managed MCP servers are enforced (${dir}); user and project entries are ignored, so rewiring them has no effect`,
    );
  return out;
}

/** Every adapter, in display order. */
export const HOSTS: readonly HostAdapter[] = [
  {
    id: "claude-desktop",
    label: "Claude Desktop",
    reload: "quit and relaunch Claude Desktop",
    files: (c) => {
      if (c.platform === "darwin")
        return [file(c, "claude-desktop", appSupport(c, "Claude", "claude_desktop_config.json"), "json", "claude")];
      if (c.platform === "win32") {
        const local = c.env.LOCALAPPDATA ?? join(c.home, "AppData", "Local");
        const packages = join(local, "Packages");
        const msix = listDir(packages).filter((d) => d.startsWith("Claude_"));
        const target =
          msix.length >= 1
            ? join(packages, msix[0] as string, "LocalCache", "Roaming", "Claude", "claude_desktop_config.json")
            : join(appData(c), "Claude", "claude_desktop_config.json");
        const f = file(c, "claude-desktop", target, "json", "claude");
        if (msix.length > 1) f.assisted = `several Claude_* packages in ${packages}; choose one by hand`;
        return [f];
      }
      return [file(c, "claude-desktop", join(xdgConfig(c), "Claude", "claude_desktop_config.json"), "json", "claude")];
    },
  },
  {
    id: "claude-code",
    label: "Claude Code",
    reload: "start a new Claude Code session (or /mcp)",
    files: (c) => {
      const user = file(c, "claude-code", join(c.env.CLAUDE_CONFIG_DIR || c.home, ".claude.json"), "json", "claude");
      user.containers = (data) => [
        { container: { path: ["mcpServers"] }, scope: "user" },
        ...Object.keys(record(record(data).projects)).map((p) => ({
          container: { path: ["projects", p, "mcpServers"] },
          scope: "local" as const,
        })),
      ];
      return [user, file(c, "claude-code", join(c.project, ".mcp.json"), "json", "claude", "project")];
    },
  },
  {
    id: "cursor",
    label: "Cursor",
    reload: "refresh the server in Cursor's MCP settings",
    files: (c) => [
      file(c, "cursor", join(c.home, ".cursor", "mcp.json"), "json", "claude"),
      file(c, "cursor", join(c.project, ".cursor", "mcp.json"), "json", "claude", "project"),
    ],
  },
  {
    id: "vscode",
    label: "VS Code",
    reload: "restart the server from the MCP view (or enable chat.mcp.autostart)",
    files: (c) => {
      const out: HostFile[] = [];
      for (const dir of vscodeUserDirs(c, ["Code", "Code - Insiders", "VSCodium"])) {
        out.push(file(c, "vscode", join(dir, "mcp.json"), "jsonc", "vscode", "user", ["servers"]));
        for (const profile of listDir(join(dir, "profiles")))
          out.push(
            file(c, "vscode", join(dir, "profiles", profile, "mcp.json"), "jsonc", "vscode", "user", ["servers"]),
          );
        const legacy = file(c, "vscode", join(dir, "settings.json"), "jsonc", "vscode", "user", ["mcp", "servers"]);
        legacy.assisted = "VS Code moves settings.json `mcp` servers to mcp.json itself; rewire them there";
        out.push(legacy);
      }
      out.push(file(c, "vscode", join(c.project, ".vscode", "mcp.json"), "jsonc", "vscode", "project", ["servers"]));
      return out;
    },
  },
  {
    id: "codex",
    label: "Codex",
    reload: "start a new Codex session (/mcp lists servers)",
    files: (c) => [
      file(c, "codex", join(c.env.CODEX_HOME || join(c.home, ".codex"), "config.toml"), "toml", "codex", "user", [
        "mcp_servers",
      ]),
      file(c, "codex", join(c.project, ".codex", "config.toml"), "toml", "codex", "project", ["mcp_servers"]),
    ],
  },
  {
    id: "windsurf",
    label: "Windsurf",
    reload: "press refresh in Windsurf's MCP panel",
    files: (c) => [file(c, "windsurf", join(c.home, ".codeium", "windsurf", "mcp_config.json"), "json", "claude")],
  },
  {
    id: "zed",
    label: "Zed",
    reload: "Zed applies settings changes by itself",
    files: (c) => {
      const base =
        c.platform === "win32"
          ? join(appData(c), "Zed")
          : c.platform === "darwin"
            ? join(c.home, ".config", "zed")
            : join(c.env.FLATPAK_XDG_CONFIG_HOME || xdgConfig(c), "zed");
      return [
        file(c, "zed", join(base, "settings.json"), "jsonc", "zed", "user", ["context_servers"]),
        file(c, "zed", join(c.project, ".zed", "settings.json"), "jsonc", "zed", "project", ["context_servers"]),
      ];
    },
  },
  {
    id: "gemini",
    label: "Gemini CLI",
    reload: "start a new Gemini CLI session",
    files: (c) => [
      file(c, "gemini", join(c.env.GEMINI_CLI_HOME || c.home, ".gemini", "settings.json"), "jsonc", "claude"),
      file(c, "gemini", join(c.project, ".gemini", "settings.json"), "jsonc", "claude", "project"),
    ],
  },
  {
    id: "cline",
    label: "Cline",
    reload: "Cline reloads its settings file by itself",
    files: (c) => [
      ...vscodeUserDirs(c, EDITORS).map((dir) =>
        file(
          c,
          "cline",
          join(dir, "globalStorage", "saoudrizwan.claude-dev", "settings", "cline_mcp_settings.json"),
          "json",
          "cline",
        ),
      ),
      file(
        c,
        "cline",
        join(c.env.CLINE_DIR || join(c.home, ".cline"), "data", "settings", "cline_mcp_settings.json"),
        "json",
        "cline",
      ),
    ],
  },
  {
    id: "roo",
    label: "Roo Code",
    reload: "Roo reloads its settings file by itself",
    files: (c) => [
      ...vscodeUserDirs(c, EDITORS).map((dir) =>
        file(
          c,
          "roo",
          join(dir, "globalStorage", "rooveterinaryinc.roo-cline", "settings", "mcp_settings.json"),
          "json",
          "roo",
        ),
      ),
      file(c, "roo", join(c.project, ".roo", "mcp.json"), "json", "roo", "project"),
    ],
  },
  {
    id: "opencode",
    label: "opencode",
    reload: "start a new opencode session",
    files: (c) => {
      const dir =
        c.env.OPENCODE_CONFIG_DIR || join(c.platform === "win32" ? join(c.home, ".config") : xdgConfig(c), "opencode");
      const names = ["opencode.json", "opencode.jsonc", "config.json"];
      const out = names.map((n) => file(c, "opencode", join(dir, n), "jsonc", "opencode", "user", ["mcp"]));
      if (c.env.OPENCODE_CONFIG)
        out.push(file(c, "opencode", resolve(c.env.OPENCODE_CONFIG), "jsonc", "opencode", "user", ["mcp"]));
      for (const n of ["opencode.json", "opencode.jsonc"])
        out.push(file(c, "opencode", join(c.project, n), "jsonc", "opencode", "project", ["mcp"]));
      return out;
    },
  },
  {
    id: "continue",
    label: "Continue",
    reload: "reload the Continue extension (or start a new `cn` session)",
    files: (c) => {
      const f = file(c, "continue", join(c.home, ".continue", "config.yaml"), "yaml", "continue");
      f.containers = () => [{ container: { path: ["mcpServers"], list: true }, scope: "user" }];
      return [f];
    },
  },
  {
    id: "goose",
    label: "Goose",
    reload: "start a new Goose session",
    files: (c) => {
      const path = c.env.GOOSE_PATH_ROOT
        ? join(c.env.GOOSE_PATH_ROOT, "config", "config.yaml")
        : c.platform === "win32"
          ? join(appData(c), "Block", "goose", "config", "config.yaml")
          : join(xdgConfig(c), "goose", "config.yaml");
      return [file(c, "goose", path, "yaml", "goose", "user", ["extensions"])];
    },
  },
  {
    id: "junie",
    label: "JetBrains Junie",
    reload: "restart the Junie session",
    files: (c) => [
      file(c, "junie", join(c.home, ".junie", "mcp", "mcp.json"), "json", "claude"),
      file(c, "junie", join(c.project, ".junie", "mcp", "mcp.json"), "json", "claude", "project"),
    ],
  },
  {
    id: "copilot",
    label: "GitHub Copilot CLI",
    reload: "start a new Copilot session",
    files: (c) => [
      file(c, "copilot", join(c.env.COPILOT_HOME || join(c.home, ".copilot"), "mcp-config.json"), "json", "claude"),
    ],
  },
  {
    id: "jetbrains",
    label: "JetBrains AI Assistant",
    reload: "in the IDE: Settings | Tools | AI Assistant | Model Context Protocol",
    files: (c) => {
      const f = file(c, "jetbrains", join(c.home, ".ai", "mcp", "mcp.json"), "json", "claude");
      f.assisted = "the IDE keeps this list in its own settings; change it in Settings | Tools | AI Assistant | MCP";
      return [f];
    },
  },
];

/** The adapter for `id`. */
export function hostById(id: string): HostAdapter | undefined {
  return HOSTS.find((h) => h.id === id);
}

/** Every existing host file, optionally with project/local scopes. */
export function existingHostFiles(ctx: HostContext, hosts: readonly HostAdapter[] = HOSTS): HostFile[] {
  const seen = new Set<string>();
  const out: HostFile[] = [];
  for (const host of hosts)
    for (const f of host.files(ctx)) {
      if (seen.has(f.path) || !existsSync(f.path)) continue;
      seen.add(f.path);
      out.push(f);
    }
  return out;
}

// --- internal ---

const EDITORS = ["Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf"];

function file(
  c: HostContext,
  host: HostId,
  path: string,
  format: FileFormat,
  shape: Shape,
  scope: Scope = "user",
  container: string[] = ["mcpServers"],
): HostFile {
  return {
    host,
    path: c.platform === "win32" ? path.replaceAll("/", "\\") : path,
    scope,
    format,
    shape,
    strictJson: format === "json",
    containers: () => [{ container: { path: container }, scope }],
  };
}

function xdgConfig(c: HostContext): string {
  return c.env.XDG_CONFIG_HOME || join(c.home, ".config");
}

function appData(c: HostContext): string {
  return c.env.APPDATA || join(c.home, "AppData", "Roaming");
}

function appSupport(c: HostContext, ...parts: string[]): string {
  return join(c.home, "Library", "Application Support", ...parts);
}

function vscodeUserDirs(c: HostContext, editors: string[]): string[] {
  const base = c.platform === "darwin" ? appSupport(c) : c.platform === "win32" ? appData(c) : xdgConfig(c);
  return editors.map((e) => join(base, e, "User"));
}

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    return record(JSON.parse(readFileSync(path, "utf8")));
  } catch {
    return undefined;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
