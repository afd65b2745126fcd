/**
 * The login service that keeps the daemon running: a systemd user unit on Linux, a launchd
 * agent on macOS. Rendering is pure; installing writes the file, enables it with the OS's own
 * tool when that works (`systemctl --user enable --now`, `launchctl bootstrap gui/<uid>`), and
 * otherwise says what to run. Uninstalling stops, disables and removes the file, never the
 * config.
 * @module
 */

import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { CONFIG_FILE_NAMES, configDir } from "../config/paths.ts";
import { MuxError } from "../errors.ts";

/** What the service runs. */
export interface ServiceSpecOptions {
  /** Absolute path of the `mux` executable. */
  mux: string;
  /** Absolute path of the config. */
  config: string;
  /** PATH the daemon starts servers with (a login service gets a minimal one otherwise). */
  path?: string;
  /** Environment for paths (default `process.env`). */
  env?: Record<string, string | undefined>;
}

/** The platform flavour of a login service. */
export type ServiceKind = "systemd" | "launchd";

/** A rendered login service: where it goes and what it says. */
export interface ServiceFile {
  kind: ServiceKind;
  /** The unit or agent name (`mcp-mux.service`, `dev.mcp-mux.default`). */
  name: string;
  path: string;
  text: string;
}

/**
 * Render the service for `kind` (default: this platform's). Throws `SERVICE_PATH_INVALID` for
 * a path no service file can carry intact (a newline or another control character).
 */
export function renderService(options: ServiceSpecOptions, kind: ServiceKind = platformKind()): ServiceFile {
  for (const [what, value] of [
    ["mux path", options.mux],
    ["config path", options.config],
    ["PATH", options.path ?? ""],
  ] as const) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (/[\u0000-\u001f\u007f]/.test(value))
      throw new MuxError(
        "SERVICE_PATH_INVALID",
        `the ${what} ${JSON.stringify(value)} holds a newline or another control character, which a login service file cannot carry: refusing (rename it)`,
      );
  }
  // systemd runs no executable whose path holds a quote or a backslash ("Executable name
  // contains special characters"): say so now rather than leave a unit that never starts.
  if (kind === "systemd" && /["'\\]/.test(options.mux))
    throw new MuxError(
      "SERVICE_PATH_INVALID",
      `systemd cannot run an executable whose path holds quotes or backslashes (${options.mux}): install mux in a folder without them (INSTALL_DIR=… sh install.sh) and pass --mux`,
    );
  const env = options.env ?? process.env;
  const home = env.HOME || homedir();
  const id = serviceId(options.config, env);
  if (kind === "systemd") {
    const name = id === "default" ? "mcp-mux.service" : `mcp-mux-${id}.service`;
    const dir = join(env.XDG_CONFIG_HOME || join(home, ".config"), "systemd", "user");
    return { kind, name, path: join(dir, name), text: systemdUnit(options) };
  }
  const name = `dev.mcp-mux.${id}`;
  const logs = join(home, "Library", "Logs", "mcp-mux");
  return {
    kind,
    name,
    path: join(home, "Library", "LaunchAgents", `${name}.plist`),
    text: launchdPlist(name, options, join(logs, `${id}.log`)),
  };
}

/** A command the installer runs, injected so tests can see and fake them. */
export type Runner = (cmd: string[]) => { code: number; output: string };

/** What install/uninstall/status did or found. */
export interface ServiceReport {
  file: ServiceFile;
  installed: boolean;
  /** Commands run, with their outcome. */
  ran: { cmd: string; code: number; output: string }[];
  /** Commands the user should run themselves (the OS tool was not usable here). */
  todo: string[];
}

/**
 * Write the service file and enable it. The folder must be a real folder (not a symbolic
 * link) that is yours (or root's) and that nobody else may write to, nor any folder above it:
 * whoever can write there decides what runs at your login. Throws `SERVICE_PATH_INVALID`.
 */
export function installService(file: ServiceFile, run: Runner = defaultRunner): ServiceReport {
  const dir = dirname(file.path);
  checkServiceDir(dir);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  checkServiceDir(dir);
  // A fresh name, created exclusively: nothing already there (a planted link) is followed.
  const tmp = join(dir, `.${basename(file.path)}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(tmp, "wx", 0o644);
  try {
    writeSync(fd, file.text);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file.path);
  if (file.kind === "launchd") mkdirSync(join(dirname(dirname(file.path)), "Logs", "mcp-mux"), { recursive: true });
  const steps =
    file.kind === "systemd"
      ? [
          ["systemctl", "--user", "daemon-reload"],
          ["systemctl", "--user", "enable", "--now", file.name],
        ]
      : [
          ["launchctl", "bootout", `gui/${uid()}/${file.name}`],
          ["launchctl", "bootstrap", `gui/${uid()}`, file.path],
        ];
  return { file, installed: true, ...runSteps(steps, run, file.kind === "launchd" ? 1 : 0) };
}

/** Stop, disable and remove the service file (the config is never touched). */
export function uninstallService(file: ServiceFile, run: Runner = defaultRunner): ServiceReport {
  const steps =
    file.kind === "systemd"
      ? [
          ["systemctl", "--user", "disable", "--now", file.name],
          ["systemctl", "--user", "daemon-reload"],
        ]
      : [["launchctl", "bootout", `gui/${uid()}/${file.name}`]];
  const report = runSteps(steps, run, 0);
  if (existsSync(file.path)) unlinkSync(file.path);
  return { file, installed: false, ...report };
}

/** Whether the service file is there, and what the OS tool says about it. */
export function serviceStatus(file: ServiceFile, run: Runner = defaultRunner): ServiceReport {
  const installed = existsSync(file.path);
  const steps = !installed
    ? []
    : file.kind === "systemd"
      ? [["systemctl", "--user", "status", "--no-pager", file.name]]
      : [["launchctl", "print", `gui/${uid()}/${file.name}`]];
  const report = runSteps(steps, run, steps.length, false);
  return { file, installed, ...report };
}

/** This platform's kind of login service. */
export function platformKind(): ServiceKind {
  return process.platform === "darwin" ? "launchd" : "systemd";
}

/** The config a service uses when none is named: the per-user one (its first existing file, or config.yaml). */
export function defaultServiceConfig(env: Record<string, string | undefined> = process.env): string {
  const dir = configDir(env);
  const found = CONFIG_FILE_NAMES.map((n) => join(dir, n)).find((p) => existsSync(p));
  return found ?? join(dir, "config.yaml");
}

// --- internal ---

/** Refuse a service folder that is a link, or that someone else owns or may write to (it or a folder above it). */
function checkServiceDir(dir: string): void {
  const me = process.getuid?.();
  if (me === undefined) return;
  const refuse = (why: string): never => {
    throw new MuxError("SERVICE_PATH_INVALID", `refusing to write the login service into ${dir}: ${why}`);
  };
  // The nearest folder that exists (the rest is created).
  let existing = resolve(dir);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  try {
    if (existing === resolve(dir) && lstatSync(existing).isSymbolicLink())
      refuse(`it is a symbolic link (to ${realpathSync(existing)}); make it a folder of your own`);
  } catch (error) {
    if (error instanceof MuxError) throw error;
  }
  let path = realpathSync(existing);
  for (;;) {
    const st = statSync(path);
    if (!st.isDirectory()) refuse(`${path} is not a folder`);
    if (st.uid !== me && st.uid !== 0) refuse(`${path} belongs to uid ${st.uid}, not to you (uid ${me})`);
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0)
      refuse(`other users may write to ${path} (mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")})`);
    const parent = dirname(path);
    if (parent === path) return;
    path = parent;
  }
}

function serviceId(config: string, env: Record<string, string | undefined>): string {
  const abs = resolve(config);
  if (dirname(abs) === configDir(env) && CONFIG_FILE_NAMES.includes(basename(abs))) return "default";
  const hash = createHash("sha256").update(abs).digest("hex").slice(0, 8);
  const stem = basename(abs)
    .replace(/\.[^.]*$/, "")
    .replace(/[^A-Za-z0-9_-]/g, "_");
  return `${stem}-${hash}`;
}

function systemdUnit(o: ServiceSpecOptions): string {
  const lines = [
    "[Unit]",
    `Description=mcp-mux: shared MCP servers (${basename(o.config)})`,
    "Documentation=https://github.com/mcp-mux/mcp-mux",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${[systemdQuote(o.mux, false), ...["serve", "--config", o.config].map((w) => systemdQuote(w))].join(" ")}`,
    "ExecReload=/bin/kill -HUP $MAINPID",
    "Restart=on-failure",
    "RestartSec=2",
    ...(o.path ? [`Environment=${systemdQuote(`PATH=${o.path}`)}`] : []),
    "",
    "[Install]",
    "WantedBy=default.target",
    "",
  ];
  return lines.join("\n");
}

/**
 * Quote one word of a systemd command line (double quotes, `\`, `"`, `%` and `$` escaped).
 * The executable itself is not subject to `$` substitution (systemd keeps `$$` as two
 * characters there), so `dollars` is false for it.
 */
function systemdQuote(word: string, dollars = true): string {
  let escaped = word.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%");
  if (dollars) escaped = escaped.replace(/\$/g, "$$$$");
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) && !word.includes("%") && !word.includes("$") ? word : `"${escaped}"`;
}

function launchdPlist(label: string, o: ServiceSpecOptions, log: string): string {
  const s = (v: string): string => `<string>${xml(v)}</string>`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    "<dict>",
    "  <key>Label</key>",
    `  ${s(label)}`,
    "  <key>ProgramArguments</key>",
    "  <array>",
    ...[o.mux, "serve", "--config", o.config].map((a) => `    ${s(a)}`),
    "  </array>",
    "  <key>RunAtLoad</key>",
    "  <true/>",
    "  <key>KeepAlive</key>",
    "  <dict>",
    "    <key>SuccessfulExit</key>",
    "    <false/>",
    "  </dict>",
    "  <key>ProcessType</key>",
    `  ${s("Background")}`,
    "  <key>StandardOutPath</key>",
    `  ${s(log)}`,
    "  <key>StandardErrorPath</key>",
    `  ${s(log)}`,
    ...(o.path
      ? ["  <key>EnvironmentVariables</key>", "  <dict>", "    <key>PATH</key>", `    ${s(o.path)}`, "  </dict>"]
      : []),
    "</dict>",
    "</plist>",
    "",
  ];
  return lines.join("\n");
}

function xml(v: string): string {
  return v.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function uid(): number {
  return process.getuid?.() ?? 0;
}

/** Run the steps while they work; from the first that cannot run, list the rest as to-do. */
function runSteps(
  steps: string[][],
  run: Runner,
  mayFail: number,
  listRest = true,
): { ran: ServiceReport["ran"]; todo: string[] } {
  const ran: ServiceReport["ran"] = [];
  const todo: string[] = [];
  for (const [i, step] of steps.entries()) {
    if (todo.length > 0) {
      todo.push(step.join(" "));
      continue;
    }
    const r = run(step);
    ran.push({ cmd: step.join(" "), ...r });
    if (r.code !== 0 && i >= mayFail && listRest) todo.push(step.join(" "));
  }
  return { ran, todo };
}

function defaultRunner(cmd: string[]): { code: number; output: string } {
  try {
    const p = Bun.spawnSync({ cmd, stdout: "pipe", stderr: "pipe" });
    return { code: p.exitCode ?? 1, output: `${p.stdout.toString()}${p.stderr.toString()}`.trim() };
  } catch (error) {
    return { code: 127, output: String(error) };
  }
}

/** Read a service file back (for status output and tests). */
export function readServiceFile(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, "utf8") : undefined;
}
