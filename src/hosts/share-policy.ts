/**
 * The share policy `rewire` writes for a server: `workspace` when its launch points into the
 * project (`.`, relative paths, `${workspaceFolder}`, a relative `cwd`), `global` for servers
 * known not to read the workspace (the table below, with the evidence), and `workspace` for
 * anything else, so hosts and sessions in one project still share one process.
 * @module
 */

import { KNOWN_SERVERS, type KnownServer, knownServer } from "../mux/known-servers.ts";
import type { SharePolicy } from "../mux/options.ts";

/** The policy of one entry and why (`args contain "."`, `unknown server: per project to be safe`). */
export interface ShareChoice {
  policy: SharePolicy;
  reason: string;
  /** What decided it: a workspace signal in the launch, the known-servers table, no knowledge, or `--share`. */
  source: "launch" | "known" | "unknown" | "override";
}

/** A server known not to depend on the folder it runs in (the table lives in mux/known-servers.ts). */
export type KnownGlobal = KnownServer;

/** Servers one process can serve for every project (see README "Share policy"). */
export const KNOWN_GLOBAL: readonly KnownGlobal[] = KNOWN_SERVERS;

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
  return knownServer(tokens);
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
