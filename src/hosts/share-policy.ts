/**
 * The share policy `rewire` writes for a server: `workspace` when its launch points into the
 * project (`.`, relative paths, `${workspaceFolder}`, a relative `cwd`), `global` for servers
 * known not to read the workspace (the table below, with the evidence), and `workspace` for
 * anything else, so hosts and sessions in one project still share one process.
 * @module
 */

import type { SharePolicy } from "../mux/options.ts";

/** The policy of one entry and why (`args contain "."`, `unknown server: per project to be safe`). */
export interface ShareChoice {
  policy: SharePolicy;
  reason: string;
  /** What decided it: a workspace signal in the launch, the known-servers table, no knowledge, or `--share`. */
  source: "launch" | "known" | "unknown" | "override";
}

/** A server known not to depend on the folder it runs in (see README "Share policy"). */
export interface KnownGlobal {
  /** The name shown in reasons. */
  name: string;
  /** Matches a command or argument naming the server's package, binary or image. */
  match: RegExp;
  /** Why one process can serve every project. */
  why: string;
  /** Where that was read. */
  evidence: string;
}

/**
 * Servers one process can serve for every project: none reads its working directory or the
 * client's roots. Keep in step with the README table.
 */
export const KNOWN_GLOBAL: readonly KnownGlobal[] = [
  {
    name: "server-memory",
    match: segment("(@modelcontextprotocol/)?(mcp-)?server-memory|mcp/memory"),
    why: "server-memory keeps one graph",
    evidence:
      "modelcontextprotocol/servers src/memory/index.ts: the default memory.jsonl sits beside the package and a relative MEMORY_FILE_PATH resolves against the package folder, never the cwd",
  },
  {
    name: "sequential-thinking",
    match: segment("(@modelcontextprotocol/)?server-sequential-thinking|mcp/sequentialthinking"),
    why: "sequential-thinking keeps its history in memory",
    evidence: "modelcontextprotocol/servers src/sequentialthinking/lib.ts: no file or roots access",
  },
  {
    name: "time",
    match: segment("mcp-server-time|mcp/time"),
    why: "time reads the clock only",
    evidence: "modelcontextprotocol/servers src/time/src/mcp_server_time/server.py: no file or roots access",
  },
  {
    name: "fetch",
    match: segment("mcp-server-fetch|mcp/fetch"),
    why: "fetch reads URLs only",
    evidence: "modelcontextprotocol/servers src/fetch/src/mcp_server_fetch/server.py: no file or roots access",
  },
  {
    name: "context7",
    match: segment("(@upstash/)?context7-mcp"),
    why: "context7 looks documentation up remotely",
    evidence: "upstash/context7: a remote API client with no local state",
  },
  {
    name: "server-everything",
    match: segment("(@modelcontextprotocol/)?server-everything|mcp/everything"),
    why: "server-everything is a test server that reads only its own package",
    evidence:
      "@modelcontextprotocol/server-everything dist/resources/files.js reads its package's docs folder; no process.cwd",
  },
  {
    name: "github",
    match: segment("github-mcp-server|(@modelcontextprotocol/)?server-github"),
    why: "github talks to the GitHub API with one token",
    evidence: "github/github-mcp-server: a remote API client; one child per distinct token (forwarded env)",
  },
];

/**
 * The policy for a launch, given the workspace signals found in it (`args contain "."`),
 * unless `override` (`rewire --share`) decides.
 */
export function classifyShare(tokens: string[], signals: string[], override?: SharePolicy): ShareChoice {
  if (override) return { policy: override, reason: `--share ${override}`, source: "override" };
  if (signals.length > 0) return { policy: "workspace", reason: listReasons(signals), source: "launch" };
  const known = knownGlobal(tokens);
  if (known) return { policy: "global", reason: `${known.why}: known global`, source: "known" };
  return { policy: "workspace", reason: "unknown server: per project to be safe", source: "unknown" };
}

/** At most three reasons, each at most 80 characters (a launch is hostile input too). */
export function listReasons(signals: string[]): string {
  const cut = (s: string) => (s.length > 80 ? `${s.slice(0, 79)}…` : s);
  const shown = signals.slice(0, 3).map(cut).join(", ");
  return signals.length > 3 ? `${shown} and ${signals.length - 3} more` : shown;
}

/** The known-global server a command or argument names, if any. */
export function knownGlobal(tokens: string[]): KnownGlobal | undefined {
  return KNOWN_GLOBAL.find((k) => tokens.some((t) => k.match.test(t)));
}

/**
 * Does an argument name a path relative to the folder the server runs in? `.`, `..`, `./x`,
 * `../x` (and `.\x`), an option's value after `=`, and `x/y` that reads as a file or folder (a
 * file extension, a trailing slash, or a usual folder name first), not a package (`@scope/x`,
 * `user/repo`), an image (`mcp/fetch`), a URL or a time zone (`Europe/Paris`). A false "yes"
 * only costs sharing across projects.
 */
export function relativePathArg(arg: string): boolean {
  const eq = /^--?[A-Za-z0-9][\w.-]*=(.*)$/.exec(arg);
  const value = eq ? (eq[1] as string) : arg;
  if (value === "." || value === "..") return true;
  if (/^\.\.?[/\\]/.test(value)) return true;
  if (value.startsWith("-") || value.startsWith("@") || value.startsWith("~") || value.startsWith("$")) return false;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) return false; // URLs, npm:, github:, C:\ (absolute)
  if (value.startsWith("/") || value.startsWith("\\") || /\s/.test(value)) return false;
  if (!value.includes("/") && !value.includes("\\")) return false;
  const parts = value.split(/[/\\]/);
  const last = parts[parts.length - 1] as string;
  if (last === "") return true;
  if (/\.[A-Za-z0-9]{1,8}$/.test(last) && !/^\d+(\.\d+)+$/.test(last)) return true;
  return COMMON_DIRS.has((parts[0] as string).toLowerCase());
}

// --- internal ---

/** A whole path segment (of a command, a package spec with a version, or an image with a tag). */
function segment(names: string): RegExp {
  return new RegExp(`(^|[/\\\\])(${names})(@[^/\\s]*|==[^/\\s]*|:[^/\\s]*)?([/\\\\]|$)`);
}

/** First folders that make `x/y` a path rather than a package or an image. */
const COMMON_DIRS = new Set([
  "src",
  "lib",
  "dist",
  "build",
  "out",
  "bin",
  "tools",
  "scripts",
  "data",
  "docs",
  "test",
  "tests",
  "node_modules",
  ".venv",
  "venv",
  "config",
  "packages",
  "apps",
]);
