/**
 * The login service that keeps the daemon running: a systemd user unit on Linux, a launchd
 * agent on macOS. Rendering is pure; installing writes the file, enables it with the OS's own
 * tool when that works (`systemctl --user enable --now`, `launchctl bootstrap gui/<uid>`), and
 * otherwise says what to run. Uninstalling stops, disables and removes the file, never the
 * config.
 * @module
 */

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { CONFIG_FILE_NAMES, configDir } from "../config/paths.ts";

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

/** Render the service for `kind` (default: this platform's). */
export function renderService(options: ServiceSpecOptions, kind: ServiceKind = platformKind()): ServiceFile {
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

/** Write the service file and enable it. */
export function installService(file: ServiceFile, run: Runner = defaultRunner): ServiceReport {
  mkdirSync(dirname(file.path), { recursive: true });
  const tmp = `${file.path}.tmp`;
  writeFileSync(tmp, file.text, { mode: 0o644 });
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
    `ExecStart=${[o.mux, "serve", "--config", o.config].map(systemdQuote).join(" ")}`,
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

/** Quote one word of a systemd command line (double quotes, `\`, `"`, `%` and `$` escaped). */
function systemdQuote(word: string): string {
  const escaped = word.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$");
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
