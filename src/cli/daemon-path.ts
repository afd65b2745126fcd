/**
 * The PATH of an auto-started daemon, and so of every server it starts: the same whichever
 * host started it (hosts differ: a terminal's PATH, a desktop app's minimal one). In order:
 * `MUX_DAEMON_PATH` when set (used as is); else the folders listed in the config folder's
 * `path` file (one per line; install.sh writes it with the folders of node, npx, bun, uvx,
 * python3, docker and deno it found), the folder of `mux`, the usual per-user tool folders
 * and the system folders, each once and only if it exists.
 * @module
 */

import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { configDir } from "../config/paths.ts";

/** The daemon's PATH for a `mux` in `muxDir`, from `env` (HOME, MUX_DAEMON_PATH, XDG_CONFIG_HOME). */
export function daemonPath(muxDir: string, env: Record<string, string | undefined> = process.env): string {
  if (env.MUX_DAEMON_PATH) return env.MUX_DAEMON_PATH;
  const home = env.HOME ?? "";
  const listed: string[] = [];
  try {
    const file = readFileSync(pathFile(env), "utf8");
    if (file.length <= MAX_FILE_BYTES)
      for (const raw of file.split("\n")) {
        const line = raw.trim();
        if (!line || line.startsWith("#") || line.includes(":")) continue;
        listed.push(line === "~" || line.startsWith("~/") ? `${home}${line.slice(1)}` : line);
      }
  } catch {}
  const user = [".local/bin", ".bun/bin", ".volta/bin", ".deno/bin", ".cargo/bin", "go/bin", ".nix-profile/bin"];
  const dirs = [...listed, muxDir, ...(home ? user.map((d) => join(home, d)) : []), ...SYSTEM];
  const out: string[] = [];
  for (const d of dirs) if (d.startsWith("/") && !out.includes(d) && isDir(d)) out.push(d);
  return out.join(":");
}

/** The file install.sh writes (and the user may edit): folders put first on the daemon's PATH. */
export function pathFile(env: Record<string, string | undefined> = process.env): string {
  return join(configDir(env), "path");
}

// --- internal ---

const SYSTEM = [
  "/opt/homebrew/bin",
  "/opt/homebrew/sbin",
  "/usr/local/bin",
  "/usr/local/sbin",
  "/usr/bin",
  "/bin",
  "/usr/sbin",
  "/sbin",
  "/snap/bin",
  "/nix/var/nix/profiles/default/bin",
];

/** A `path` file bigger than this is not a list of folders. */
const MAX_FILE_BYTES = 65_536;

function isDir(path: string): boolean {
  try {
    return existsSync(path) && statSync(path).isDirectory();
  } catch {
    return false;
  }
}
