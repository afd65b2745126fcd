/**
 * Workspaces of `share = "workspace"` services: which folder a client works in, checked as the
 * untrusted input it is, and the key its child is shared under.
 *
 * The candidates, in order: the proxy's working directory (the folder the host started it in,
 * what the server would have had without the mux), then `CLAUDE_PROJECT_DIR`, then
 * `CODEX_WORKSPACE_ROOT`; an HTTP entry names its folder outright (`?workspace=`). A candidate
 * that is not a workspace (`/`, HOME, install and cache folders GUI hosts start servers in) is
 * passed over; one that is not a usable folder (missing, not a directory, another user's,
 * control characters, too long, relative) is an error for that client. No candidate left: the
 * client has no workspace, and is served by one child started in a private empty folder, never
 * in HOME.
 * @module
 */

import { existsSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import type { WorkspaceHint } from "../protocol/hello.ts";
import type { WorkspaceKeyMode } from "./options.ts";

/** A client's workspace. */
export interface Workspace {
  /** The folder the child runs in: the real path (symlinks resolved). */
  dir: string;
  /** What its child is shared under: `dir`, or its git root with `workspace_key = "git-root"`. */
  key: string;
  /** Where it came from: `cwd`, `CLAUDE_PROJECT_DIR`, `CODEX_WORKSPACE_ROOT`, `url`. */
  source: string;
}

/** Longest workspace path accepted. */
export const MAX_WORKSPACE_PATH = 4096;

/**
 * The workspace of a client's hint: a workspace, `undefined` (none: the client goes to the
 * no-workspace child), or `{ error }` naming what is wrong with the folder it gave.
 */
export function resolveWorkspace(
  hint: WorkspaceHint | undefined,
  mode: WorkspaceKeyMode,
  env: Record<string, string | undefined> = process.env,
): Workspace | { error: string } | undefined {
  if (!hint) return undefined;
  const candidates: [string, string | undefined][] = [
    ["url", hint.explicit],
    ["cwd", hint.cwd],
    ["CLAUDE_PROJECT_DIR", hint.projectDir],
    ["CODEX_WORKSPACE_ROOT", hint.codexRoot],
  ];
  const home = realOr(env.HOME || homedir());
  for (const [source, path] of candidates) {
    if (path === undefined || path === "") continue;
    const checked = checkFolder(path, source);
    if (typeof checked !== "string") return checked;
    // A folder named outright is taken as named; a launch folder may be no workspace at all.
    if (source !== "url" && notAWorkspace(checked, home)) continue;
    return { dir: checked, key: mode === "git-root" ? gitRoot(checked, home) : checked, source };
  }
  return undefined;
}

/** True for folders hosts start servers in that are no project: `/`, HOME, install and cache folders. */
export function notAWorkspace(dir: string, home: string): boolean {
  if (dir === "/" || dir === home) return true;
  const underHome = [
    "/.cache",
    "/.npm",
    "/.local/share",
    "/.local/state",
    "/Library",
    "/.cargo",
    "/.rustup",
    "/.nvm",
    "/.bun",
  ];
  if (underHome.some((p) => dir === home + p || dir.startsWith(`${home}${p}/`))) return true;
  const system = [
    "/usr",
    "/opt",
    "/Applications",
    "/System",
    "/bin",
    "/sbin",
    "/etc",
    "/var/lib",
    "/snap",
    "/nix/store",
  ];
  return system.some((p) => dir === p || dir.startsWith(`${p}/`));
}

// --- internal ---

/** True when `text` holds a control character (C0 or DEL), refused in a workspace path. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** The real path of a usable folder, or what is wrong with it. */
function checkFolder(path: string, source: string): string | { error: string } {
  const shown = JSON.stringify(path.length > 120 ? `${path.slice(0, 120)}…` : path);
  const bad = (why: string): { error: string } => ({ error: `workspace ${shown} (from ${source}) ${why}` });
  if (path.length > MAX_WORKSPACE_PATH) return bad(`is longer than ${MAX_WORKSPACE_PATH} characters`);
  if (hasControl(path)) return bad("contains control characters");
  if (!isAbsolute(path)) return bad("is not an absolute path");
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return bad("does not exist");
  }
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(real);
  } catch {
    return bad("cannot be read");
  }
  if (!st.isDirectory()) return bad("is not a directory");
  const me = process.getuid?.();
  if (me !== undefined && st.uid !== me) return bad(`belongs to another user (uid ${st.uid})`);
  return real;
}

/** The nearest folder at or above `dir` holding `.git` (a repository, or a worktree's `.git` file), below HOME; else `dir`. */
function gitRoot(dir: string, home: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (d === home || d === "/") return dir;
    if (existsSync(join(d, ".git"))) return d;
    if (dirname(d) === d) return dir;
  }
}

function realOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
