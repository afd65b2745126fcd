/**
 * Load a config file (JSON, YAML or TOML, chosen by extension) into typed service options:
 * parsed once, validated with helpful errors, variables and paths expanded.
 * @module
 */

import { closeSync, constants, existsSync, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import { MuxError } from "../errors.ts";
import type { ConfiguredService } from "../mux/multi.ts";
import { isObject } from "../protocol/message.ts";
import { CONFIG_FILE_NAMES, configDir, defaultSocketPath, expandVars, resolvePath } from "./paths.ts";
import {
  type ConfigIssue,
  DAEMON_KEYS,
  type DaemonSettings,
  parseDaemonSettings,
  parseService,
  type RawService,
} from "./schema.ts";
import { suggest } from "./suggest.ts";

/** A loaded config: services by name, in file order. */
export interface MuxConfig {
  /** The file it came from, when it came from one. */
  path?: string;
  services: Record<string, ConfiguredService>;
  /** Settings of the daemon as a whole (`idle_exit_ms`). */
  daemon: DaemonSettings;
  /** Non-fatal notes (e.g. rmcp-mux keys without effect). */
  warnings: string[];
}

/** A config that failed validation; `issues` lists every problem. */
export class ConfigError extends MuxError {
  readonly issues: ConfigIssue[];
  readonly file: string;

  constructor(file: string, issues: ConfigIssue[]) {
    super("CONFIG_INVALID", `invalid config ${file}:\n${issues.map((i) => `  - ${formatIssue(i)}`).join("\n")}`);
    this.file = file;
    this.issues = issues;
  }
}

/** Options of {@link loadConfig} and {@link parseConfig}. */
export interface LoadConfigOptions {
  /** Environment for `$VAR` expansion and default paths (default `process.env`). */
  env?: Record<string, string | undefined>;
}

/** Largest config file read (a config is a few kilobytes; anything near this is not one). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Read and validate a config file. Throws `ConfigError` listing every problem. */
export function loadConfig(path: string, options: LoadConfigOptions = {}): MuxConfig {
  const file = resolve(path);
  const text = readConfigFile(file);
  return parseConfig(text, { ...options, file, format: formatOf(file) });
}

/**
 * The text of a config file: a regular file (symbolic links followed) of at most
 * {@link MAX_CONFIG_BYTES}. A FIFO, a device (say a link to /dev/zero), a folder or a bigger
 * file is refused with the reason, without reading it: it is opened non-blocking (a FIFO
 * cannot hang the open) and checked on the opened descriptor (what was checked is what is
 * read). Throws `ConfigError`.
 */
export function readConfigFile(path: string): string {
  const file = resolve(path);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = code === "ENOENT" ? "file not found" : `cannot open it (${code ?? String(error)})`;
    throw new ConfigError(file, [{ message }]);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfigError(file, [{ message: `not a regular file (it is ${kindOf(st)})` }]);
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError(file, [{ message: tooBig(st.size) }]);
    // Read to the end, never past the cap (the file may grow while it is read).
    const parts: Buffer[] = [];
    let size = 0;
    for (;;) {
      const part = Buffer.alloc(64 * 1024);
      const n = readSync(fd, part, 0, part.length, null);
      if (n === 0) break;
      size += n;
      if (size > MAX_CONFIG_BYTES) throw new ConfigError(file, [{ message: tooBig(size) }]);
      parts.push(part.subarray(0, n));
    }
    return Buffer.concat(parts, size).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** Validate config text (or an already-parsed object when `format` is `object`). */
export function parseConfig(
  input: string | Record<string, unknown>,
  options: LoadConfigOptions & { file?: string; format?: ConfigFormat } = {},
): MuxConfig {
  const file = options.file ?? "<config>";
  const env = options.env ?? process.env;
  const base = options.file ? dirname(options.file) : process.cwd();
  const text = typeof input === "string" ? input : "";
  let data: unknown = input;
  if (typeof input === "string") {
    try {
      data = PARSERS[options.format ?? "json"](input);
    } catch (error) {
      throw new ConfigError(file, [{ message: syntaxMessage(error), line: syntaxLine(error) }]);
    }
  }
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const services: Record<string, ConfiguredService> = {};
  if (!isObject(data) || !isObject(data.servers)) {
    throw new ConfigError(file, [
      { message: 'the top level needs a "servers" table: servers: { <name>: { cmd: ... } }' },
    ]);
  }
  const known = ["servers", ...DAEMON_KEYS] as string[];
  for (const key of Object.keys(data)) {
    if (!known.includes(key)) {
      const hint = suggest(key, known);
      issues.push({ field: key, message: `unknown top-level key "${key}"${hint ? ` (did you mean "${hint}"?)` : ""}` });
    }
  }
  const daemon = parseDaemonSettings(data, issues);
  if (daemon.http?.tokenFile) daemon.http.tokenFile = resolvePath(daemon.http.tokenFile, base, env);
  for (const [name, value] of Object.entries(data.servers)) {
    const raw = parseService(name, value, issues, warnings) as (RawService & { tray?: boolean }) | undefined;
    if (!raw) continue;
    // rmcp-mux's per-service `tray = true` turns on the daemon's one status icon.
    if (raw.tray === true) daemon.tray ??= true;
    delete raw.tray;
    services[name] = finish(name, raw, base, env, warnings);
  }
  const bySocket = new Map<string, string>();
  for (const [name, s] of Object.entries(services)) {
    const other = bySocket.get(s.socket);
    if (other)
      issues.push({ service: name, field: "socket", message: `socket ${s.socket} is also used by service "${other}"` });
    else bySocket.set(s.socket, name);
  }
  if (issues.length > 0)
    throw new ConfigError(
      file,
      issues.map((i) => ({ ...i, line: i.line ?? locate(text, i) })),
    );
  return { path: options.file, services, daemon, warnings };
}

/** The config file to use: `explicit` if given, else the first existing file in the per-user config dir. */
export function findConfig(
  explicit?: string,
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  if (explicit) return explicit;
  const dir = configDir(env);
  return CONFIG_FILE_NAMES.map((n) => join(dir, n)).find((p) => existsSync(p));
}

/** Render an issue as one line: `service "x", field "y" (line 3): message`. */
export function formatIssue(issue: ConfigIssue): string {
  const where = [
    issue.service !== undefined ? `service "${issue.service}"` : undefined,
    issue.field !== undefined && issue.service !== undefined ? `field "${issue.field}"` : undefined,
    issue.line !== undefined ? `line ${issue.line}` : undefined,
  ].filter(Boolean);
  return where.length > 0 ? `${where.join(", ")}: ${issue.message}` : issue.message;
}

/** Supported config formats. */
export type ConfigFormat = "json" | "yaml" | "toml";

// --- internal ---

const PARSERS: Record<ConfigFormat, (text: string) => unknown> = {
  json: (text) => JSON.parse(text),
  yaml: (text) => parseYaml(text),
  toml: (text) => parseToml(text),
};

function tooBig(size: number): string {
  return `the file is too big for a config (${size} bytes or more; at most ${MAX_CONFIG_BYTES} bytes)`;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a folder";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a file";
}

function formatOf(file: string): ConfigFormat {
  const ext = extname(file).toLowerCase();
  if (ext === ".yaml" || ext === ".yml") return "yaml";
  if (ext === ".toml") return "toml";
  if (ext === ".json") return "json";
  throw new ConfigError(file, [{ message: `unknown config format "${ext}" (use .json, .yaml, .yml or .toml)` }]);
}

function finish(
  name: string,
  raw: RawService,
  base: string,
  env: Record<string, string | undefined>,
  warnings: string[],
): ConfiguredService {
  // A referenced variable the daemon does not have turns into "": say so, per field, since a
  // server given an empty path or key often carries on somewhere unexpected.
  const unset = (what: string) => (v: string) =>
    warnings.push(
      `service "${name}": $${v} is not set in the daemon's environment, so ${what} gets it empty (set it where the daemon starts, give a default with \${${v}:-value}, or let the host forward it with mux-proxy --env)`,
    );
  const out: ConfiguredService = { ...raw, socket: "", serviceName: raw.serviceName ?? name } as ConfiguredService;
  out.socket = raw.socket ? resolvePath(raw.socket, base, env, unset("socket")) : defaultSocketPath(name, env);
  // A workspace service's relative cwd (or one naming ${workspaceFolder}) is taken from each
  // workspace, not from the config's folder.
  const perWorkspace = raw.share === "workspace" && raw.cwd !== undefined && !/^[~/$]/.test(raw.cwd);
  if (raw.cwd && (perWorkspace || raw.cwd.includes("{workspaceFolder}")))
    out.cwd = expandVars(raw.cwd, env, unset("cwd"));
  else if (raw.cwd) out.cwd = resolvePath(raw.cwd, base, env, unset("cwd"));
  if (raw.statusFile) out.statusFile = resolvePath(raw.statusFile, base, env, unset("status_file"));
  if (raw.args) out.args = raw.args.map((a, i) => expandVars(a, env, unset(`argument ${i + 1}`)));
  if (raw.env)
    out.env = Object.fromEntries(Object.entries(raw.env).map(([k, v]) => [k, expandVars(v, env, unset(`env ${k}`))]));
  if (raw.cmd && (raw.cmd.startsWith("./") || raw.cmd.startsWith("../")))
    out.cmd = resolvePath(raw.cmd, base, env, unset("cmd"));
  else if (raw.cmd) out.cmd = expandVars(raw.cmd, env, unset("cmd"));
  return out;
}

/** Best-effort line of an issue: the service's key, then the field's key after it. */
function locate(text: string, issue: ConfigIssue): number | undefined {
  if (!text) return undefined;
  const lines = text.split("\n");
  const keyRe = (k: string) => new RegExp(`(^|[\\s{,."'\\[])${escapeRegExp(k)}["']?\\s*[:=\\]]`);
  let start = 0;
  if (issue.service !== undefined) {
    const i = lines.findIndex((l) => keyRe(issue.service as string).test(l));
    if (i < 0) return undefined;
    start = i;
    if (issue.field === undefined) return i + 1;
  }
  if (issue.field === undefined) return undefined;
  for (let i = start; i < lines.length; i++) if (keyRe(issue.field).test(lines[i] as string)) return i + 1;
  return issue.service !== undefined ? start + 1 : undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function syntaxMessage(error: unknown): string {
  return `syntax error: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`;
}

function syntaxLine(error: unknown): number | undefined {
  const e = error as { line?: number; linePos?: [{ line: number }] };
  if (typeof e.line === "number") return e.line;
  if (Array.isArray(e.linePos)) return e.linePos[0]?.line;
  return undefined;
}
