/**
 * Entry shapes: read a host's entry into one normal form (command, args, env, cwd), tell
 * stdio from remote and built-in entries, recognise entries that already run `mux-proxy`,
 * and list the edits that turn an entry into a `mux-proxy` launch while keeping every policy
 * key (enabled flags, tool filters, timeouts, trust) where it is.
 * @module
 */

import type { EditOp } from "./formats/document.ts";
import type { HostId, Shape } from "./hosts.ts";

/** The normal form of a stdio launch. */
export interface Launch {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Environment we cannot pass on at all (`envFile`, remote `env_vars`): not shareable. */
  hostEnv: string[];
  /** Variables only the host can fill in, by name (Goose `env_keys` secrets): forwarded. */
  secretKeys: string[];
  /** Variables passed through from the host's own environment (Codex `env_vars`). */
  envRefs: string[];
}

/** What an entry is. */
export type EntryKind = "stdio" | "remote" | "other";

export interface ReadEntry {
  kind: EntryKind;
  launch?: Launch;
  /** Why an entry is `other` (extension, built-in, unreadable). */
  note?: string;
}

/** Executable names of proxies (ours and other muxes'); entries running them are never wrapped. */
export const PROXY_NAMES = new Set(["mux-proxy", "rmcp-mux-proxy", "rust-mux-proxy", "rmcp_mux_proxy"]);

/** Read an entry of the given shape. */
export function readEntry(shape: Shape, value: unknown): ReadEntry {
  const v = rec(value);
  if (!v) return { kind: "other", note: "not an object" };
  switch (shape) {
    case "codex":
      if (typeof v.command === "string") {
        const names = envVarNames(v.env_vars);
        const read = stdio(
          v.command,
          v.args,
          v.env,
          v.cwd,
          names.filter((n) => n.startsWith("remote:")),
        );
        if (read.launch) read.launch.envRefs = names.filter((n) => !n.startsWith("remote:"));
        return read;
      }
      return v.url !== undefined ? { kind: "remote" } : { kind: "other", note: "no command or url" };
    case "opencode": {
      if (v.type === "remote" || v.url !== undefined) return { kind: "remote" };
      const argv = Array.isArray(v.command) ? v.command.map(String) : typeof v.command === "string" ? [v.command] : [];
      if (argv.length === 0) return { kind: "other", note: "no command" };
      return stdio(argv[0] as string, argv.slice(1), v.environment, v.cwd, []);
    }
    case "goose": {
      const type = v.type ?? (typeof v.cmd === "string" ? "stdio" : undefined);
      if (type === "stdio" && typeof v.cmd === "string") {
        const read = stdio(v.cmd, v.args, v.envs, undefined, []);
        if (read.launch && Array.isArray(v.env_keys)) read.launch.secretKeys = v.env_keys.map(String);
        return read;
      }
      if (type === "streamable_http" || type === "sse") return { kind: "remote" };
      return { kind: "other", note: `Goose ${String(type ?? "unknown")} extension` };
    }
    case "zed": {
      if (typeof v.command === "string") return stdio(v.command, v.args, v.env, undefined, []);
      const cmd = rec(v.command);
      if (cmd && typeof cmd.path === "string") return stdio(cmd.path, cmd.args, cmd.env, undefined, []);
      if (v.url !== undefined) return { kind: "remote" };
      return { kind: "other", note: "Zed extension server" };
    }
    default: {
      const remoteType = ["http", "sse", "streamableHttp", "streamable-http"].includes(String(v.type));
      if (typeof v.command === "string" && !remoteType)
        return stdio(v.command, v.args, v.env, v.cwd, typeof v.envFile === "string" ? [`envFile ${v.envFile}`] : []);
      if (v.url !== undefined || v.serverUrl !== undefined || v.httpUrl !== undefined || remoteType)
        return { kind: "remote" };
      return { kind: "other", note: "no command" };
    }
  }
}

/** The socket an entry already points at, when it runs a mux proxy. */
/** The options of a proxy launch: its socket, its config, and the variables it forwards. */
export function proxyArgs(launch: Launch): { socket?: string; config?: string; forward: string[] } {
  const out: { socket?: string; config?: string; forward: string[] } = { forward: [] };
  const a = launch.args;
  for (let i = 0; i < a.length; i++) {
    const arg = a[i] as string;
    const take = (name: string): string | undefined =>
      arg === name ? a[++i] : arg.startsWith(`${name}=`) ? arg.slice(name.length + 1) : undefined;
    if (arg === "--socket" || arg.startsWith("--socket=")) out.socket = take("--socket");
    else if (arg === "--config" || arg.startsWith("--config=")) out.config = take("--config");
    else if (arg === "--env" || arg.startsWith("--env=")) {
      const name = take("--env");
      if (name) out.forward.push(name);
    }
  }
  return out;
}

export function proxySocket(launch: Launch): { proxy: string; socket?: string } | undefined {
  const base = (launch.command.split(/[\\/]/).pop() ?? "").toLowerCase().replace(/\.exe$/, "");
  if (!PROXY_NAMES.has(base)) return undefined;
  const i = launch.args.findIndex((a) => a === "--socket" || a === "--pipe");
  const inline = launch.args.find((a) => a.startsWith("--socket="));
  return { proxy: base, socket: i >= 0 ? launch.args[i + 1] : inline?.slice("--socket=".length) };
}

/**
 * The edits that make an entry launch `proxy --socket socket`, keeping policy keys. With
 * `forward` (env names only the host can resolve), the entry keeps its env keys and the proxy
 * passes those variables on (`--env NAME`); otherwise env moves to the mux config.
 */
export function rewireOps(
  shape: Shape,
  value: unknown,
  proxy: string,
  socket: string,
  forward: string[] = [],
  config?: string,
): EditOp[] {
  const v = rec(value) ?? {};
  const args = ["--socket", socket, ...(config ? ["--config", config] : []), ...forward.flatMap((k) => ["--env", k])];
  const ENV_KEYS = new Set(["env", "envs", "env_keys", "env_vars", "environment"]);
  const present = (...keys: string[]): EditOp[] =>
    keys
      .filter((k) => v[k] !== undefined && !(forward.length > 0 && ENV_KEYS.has(k)))
      .map((k) => ({ path: [k], remove: true }));
  const set = (key: string, val: unknown): EditOp => ({ path: [key], value: val });
  switch (shape) {
    case "codex":
      return [
        set("command", proxy),
        set("args", args),
        ...present("env", "env_vars", "cwd", "experimental_environment"),
      ];
    case "opencode":
      return [set("command", [proxy, ...args]), ...present("environment", "cwd")];
    case "goose":
      return [set("cmd", proxy), set("args", args), ...present("envs", "env_keys")];
    case "zed": {
      const remote: EditOp[] = v.remote === true ? [set("remote", false)] : [];
      if (rec(v.command)) {
        const cmd = rec(v.command) ?? {};
        return [
          { path: ["command", "path"], value: proxy },
          { path: ["command", "args"], value: args },
          ...(cmd.env !== undefined && forward.length === 0 ? [{ path: ["command", "env"], remove: true }] : []),
          ...remote,
        ];
      }
      return [set("command", proxy), set("args", args), ...present("env"), ...remote];
    }
    case "vscode":
      return [
        set("command", proxy),
        set("args", args),
        ...present("env", "envFile", "cwd", "dev", "sandboxEnabled", "sandbox"),
      ];
    case "roo":
      return [set("command", proxy), set("args", args), ...present("env", "envFile", "cwd", "watchPaths")];
    default:
      return [set("command", proxy), set("args", args), ...present("env", "envFile", "cwd")];
  }
}

/**
 * Hosts whose config takes a Streamable HTTP entry, with the keys it is spelled with (the field
 * crosswalk of the host-config notes). Claude Desktop (stdio only in its file), Junie and
 * JetBrains AI (URL entries unverified) are missing on purpose: they keep stdio entries.
 */
export const URL_ENTRIES: Partial<Record<HostId, { url: string; type?: string; headers?: string[] }>> = {
  "claude-code": { url: "url", type: "http", headers: ["headers"] },
  cursor: { url: "url", headers: ["headers"] },
  vscode: { url: "url", type: "http", headers: ["headers"] },
  codex: { url: "url", headers: ["http_headers"] },
  windsurf: { url: "serverUrl", headers: ["headers"] },
  zed: { url: "url", headers: ["headers"] },
  gemini: { url: "url", type: "http", headers: ["headers"] },
  cline: { url: "url", type: "streamableHttp", headers: ["headers"] },
  roo: { url: "url", type: "streamable-http", headers: ["headers"] },
  continue: { url: "url", type: "streamable-http", headers: ["requestOptions", "headers"] },
  goose: { url: "uri", type: "streamable_http", headers: ["headers"] },
  opencode: { url: "url", type: "remote", headers: ["headers"] },
  copilot: { url: "url", type: "http", headers: ["headers"] },
};

/**
 * The edits that turn a stdio entry into a Streamable HTTP entry for `url` (with the bearer
 * token as a header when there is one): launch keys go, the host's URL keys come, every policy
 * key stays.
 */
export function httpOps(host: HostId, value: unknown, url: string, token?: string): EditOp[] {
  const spelling = URL_ENTRIES[host];
  if (!spelling) throw new Error(`${host} takes no URL entries`);
  const v = rec(value) ?? {};
  const LAUNCH = [
    "command",
    "args",
    "env",
    "envFile",
    "cwd",
    "cmd",
    "envs",
    "env_keys",
    "env_vars",
    "environment",
    "experimental_environment",
    "source",
    "dev",
    "sandboxEnabled",
    "sandbox",
    "watchPaths",
    "transportType",
  ];
  const ops: EditOp[] = LAUNCH.filter((k) => v[k] !== undefined).map((k) => ({ path: [k], remove: true }));
  if (spelling.type) ops.push({ path: ["type"], value: spelling.type });
  else if (v.type !== undefined) ops.push({ path: ["type"], remove: true });
  if (host === "zed" && v.remote !== undefined) ops.push({ path: ["remote"], remove: true });
  ops.push({ path: [spelling.url], value: url });
  if (token && spelling.headers) ops.push({ path: spelling.headers, value: { Authorization: `Bearer ${token}` } });
  return ops;
}

/** Keys a rewire drops with a warning (they would stop the proxy from working). */
export function droppedWithWarning(shape: Shape, value: unknown): string[] {
  const v = rec(value) ?? {};
  return shape === "vscode" ? ["sandboxEnabled", "sandbox"].filter((k) => v[k] !== undefined) : [];
}

// --- internal ---

function stdio(command: string, args: unknown, env: unknown, cwd: unknown, hostEnv: string[]): ReadEntry {
  const launch: Launch = {
    command,
    args: Array.isArray(args) ? args.map(String) : [],
    env: Object.fromEntries(
      Object.entries(rec(env) ?? {})
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, String(v)]),
    ),
    hostEnv,
    secretKeys: [],
    envRefs: [],
  };
  if (typeof cwd === "string" && cwd !== "") launch.cwd = cwd;
  return { kind: "stdio", launch };
}

function envVarNames(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map((v) => {
    const r = rec(v);
    if (r) return r.source === "remote" ? `remote:${String(r.name)}` : String(r.name);
    return String(v);
  });
}

function rec(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
