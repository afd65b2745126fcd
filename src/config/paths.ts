/**
 * Per-user locations (config, runtime sockets) and path/variable expansion.
 * @module
 */

import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";

/** File names looked for in the config directory, in order. */
export const CONFIG_FILE_NAMES = ["config.toml", "config.yaml", "config.yml", "config.json"];

/**
 * The per-user config directory: `$XDG_CONFIG_HOME/mcp-mux` (default `~/.config/mcp-mux`) on
 * Linux; `~/Library/Application Support/mcp-mux` on macOS.
 */
export function configDir(env: Record<string, string | undefined> = process.env): string {
  const home = env.HOME ?? homedir();
  if (process.platform === "darwin") return join(home, "Library", "Application Support", "mcp-mux");
  return join(env.XDG_CONFIG_HOME || join(home, ".config"), "mcp-mux");
}

/**
 * The per-user runtime directory for sockets: `$MUX_RUNTIME_DIR` when set, else
 * `$XDG_RUNTIME_DIR/mcp-mux`, else a folder in the user's home (never a shared folder such as
 * /tmp, where another user could create it first): `$XDG_STATE_HOME/mcp-mux/run` (default
 * `~/.local/state/mcp-mux/run`) on Linux, `~/Library/Caches/mcp-mux/run` on macOS. The daemon
 * creates it 0700 and refuses it when it is not the user's own.
 */
export function runtimeDir(env: Record<string, string | undefined> = process.env): string {
  if (env.MUX_RUNTIME_DIR) return env.MUX_RUNTIME_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, "mcp-mux");
  const home = env.HOME || homedir();
  if (process.platform === "darwin") return join(home, "Library", "Caches", "mcp-mux", "run");
  return join(env.XDG_STATE_HOME || join(home, ".local", "state"), "mcp-mux", "run");
}

/**
 * The per-user state directory (rewire records, backups, daemon logs): `$MUX_STATE_DIR`, else
 * `$XDG_STATE_HOME/mcp-mux` (default `~/.local/state/mcp-mux`); macOS
 * `~/Library/Application Support/mcp-mux/state`.
 */
export function stateDir(env: Record<string, string | undefined> = process.env): string {
  if (env.MUX_STATE_DIR) return env.MUX_STATE_DIR;
  const home = env.HOME || homedir();
  if (process.platform === "darwin") return join(home, "Library", "Application Support", "mcp-mux", "state");
  return join(env.XDG_STATE_HOME || join(home, ".local", "state"), "mcp-mux");
}

/**
 * The per-user cache directory (the tray helper): `$XDG_CACHE_HOME/mcp-mux` (default
 * `~/.cache/mcp-mux`); macOS `~/Library/Caches/mcp-mux`.
 */
export function cacheDir(env: Record<string, string | undefined> = process.env): string {
  const home = env.HOME || homedir();
  if (process.platform === "darwin") return join(home, "Library", "Caches", "mcp-mux");
  return join(env.XDG_CACHE_HOME || join(home, ".cache"), "mcp-mux");
}

/** Files of the daemon that runs the config at `configPath`: its log, and its two locks. */
export function daemonFiles(
  configPath: string,
  env: Record<string, string | undefined> = process.env,
): { log: string; startLock: string; daemonLock: string; stopMarker: string } {
  const abs = resolve(configPath);
  const hash = sha256Hex(abs).slice(0, 12);
  const name = (abs.split("/").pop() ?? "config").replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_-]/g, "_");
  return {
    log: join(stateDir(env), "logs", `daemon-${name}-${hash}.log`),
    startLock: join(runtimeDir(env), `start-${hash}.lock`),
    daemonLock: join(runtimeDir(env), `daemon-${hash}.lock`),
    // Left by `mux stop`: proxies do not start this daemon until it is started explicitly.
    stopMarker: join(runtimeDir(env), `stopped-${hash}`),
  };
}

/**
 * The HTTP front's default port for this user and config folder: 20000 + a hash of the uid and
 * the config folder, mod 20000 (so two users, or two HOMEs of one user, never share a default
 * port, and the port is stable across restarts, as host entries need).
 */
export function defaultHttpPort(env: Record<string, string | undefined> = process.env): number {
  const uid = process.getuid?.() ?? 0;
  const digest = sha256Hex(`${uid}:${configDir(env)}`);
  return 20000 + (Number.parseInt(digest.slice(0, 8), 16) % 20000);
}

/** `127.0.0.1:<defaultHttpPort>`: where the HTTP front listens when nothing says otherwise. */
export function defaultHttpListen(env: Record<string, string | undefined> = process.env): string {
  return `127.0.0.1:${defaultHttpPort(env)}`;
}

/** The HTTP front's bearer token file when the config names none: `<configDir>/http-token` (0600). */
export function defaultTokenFile(env: Record<string, string | undefined> = process.env): string {
  return join(configDir(env), "http-token");
}

/** Default socket of a service without `socket`: `<runtimeDir>/<name>.sock`. */
export function defaultSocketPath(name: string, env: Record<string, string | undefined> = process.env): string {
  return join(runtimeDir(env), `${name}.sock`);
}

/** The control socket of the daemon running the config at `configPath` (reload, status). */
export function controlSocketPath(configPath: string, env: Record<string, string | undefined> = process.env): string {
  const hash = sha256Hex(resolve(configPath)).slice(0, 12);
  return join(runtimeDir(env), `control-${hash}.sock`);
}

/**
 * Expand `~`, `$VAR`, `${VAR}` and `${VAR:-default}` (unset variables become empty, or the
 * default). `${workspaceFolder}` is kept as it is: a `share = "workspace"` service's child
 * gets its own workspace folder there.
 */
export function expandVars(
  value: string,
  env: Record<string, string | undefined> = process.env,
  onUnset?: (name: string) => void,
): string {
  const home = env.HOME ?? homedir();
  const tilde = value === "~" ? home : value.startsWith("~/") ? `${home}${value.slice(1)}` : value;
  return tilde.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match: string, a: string | undefined, d: string | undefined, b: string | undefined) => {
      const name = (a ?? b) as string;
      // The host's name for the project folder: each workspace child gets its own (never the daemon's).
      if (name === "workspaceFolder") return match;
      const v = env[name];
      if (v === undefined && d === undefined) onUnset?.(name);
      return v === undefined || (v === "" && d !== undefined) ? (d ?? "") : v;
    },
  );
}

/** Expand and resolve a path relative to `base` (the config file's folder). */
export function resolvePath(
  value: string,
  base: string,
  env: Record<string, string | undefined> = process.env,
  onUnset?: (name: string) => void,
): string {
  const expanded = expandVars(value, env, onUnset);
  return isAbsolute(expanded) ? expanded : resolve(base, expanded);
}

/** SHA-256 in hex with Bun's native hasher (node:crypto would weigh on every mux-proxy). */
function sha256Hex(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
}
