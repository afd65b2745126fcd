/**
 * `mux status`: one service (`--socket`) or every service of a config (`--config`), once or
 * live (`--watch`). Exit 0 when every service answers and its server is ready or idle, 1 when
 * one is failed, cannot start or is not answering, 2 when nothing answers at all, 6 when one's
 * server has not answered yet (as `mux health`).
 * @module
 */

import { defineCommand } from "citty";
import { connectRpc } from "../client/rpc.ts";
import { findConfig, loadConfig } from "../config/load.ts";
import { controlSocketPath } from "../config/paths.ts";
import { isObject } from "../protocol/message.ts";
import { fail } from "./logger.ts";
import { colorEnabled, printable } from "./tty.ts";

/** One service as status shows it: a daemon's snapshot, or `{service, socket, state: "down"}`. */
export type StatusRow = Record<string, unknown>;

/** The `status` subcommand. */
export const statusCommand = defineCommand({
  meta: { name: "status", description: "Show the status of a running service, or of every service of a config" },
  args: {
    socket: { type: "string", description: "The mux socket path" },
    config: { type: "string", description: "Show every service of this config" },
    json: { type: "boolean", description: "Print JSON" },
    watch: {
      type: "boolean",
      description: "Live view, refreshed every second (q or Ctrl-C quits); one plain line per refresh when piped",
    },
    interval: { type: "string", description: "Refresh interval of --watch in milliseconds (default 1000)" },
    hosts: { type: "boolean", description: "Show which host entries are rewired (like mux rewire --status)" },
  },
  async run({ args }) {
    if (args.hosts) {
      const { printStatus } = await import("./hosts.ts");
      const { rewireStatus } = await import("../hosts/rewire.ts");
      const { hostContext } = await import("../hosts/hosts.ts");
      printStatus(rewireStatus({ ctx: hostContext() }), args.json ?? false);
      process.exit(0);
    }
    let target: { label: string; read: () => Promise<StatusRow[]> };
    if (args.socket) {
      const socket = args.socket;
      target = {
        label: socket,
        read: async () => [(await askStatus(socket)) ?? { service: "-", socket, state: "down" }],
      };
    } else {
      const path = findConfig(args.config);
      if (!path) fail("give --socket PATH or --config FILE (no per-user config found)");
      target = { label: path, read: () => configStatus(path) };
    }
    if (args.watch) {
      const interval = args.interval === undefined ? 1000 : Number(args.interval);
      if (!Number.isInteger(interval) || interval < 100) fail("--interval must be a whole number of ms, at least 100");
      const { watchStatus } = await import("./watch.ts");
      await watchStatus(target, { interval, json: args.json ?? false });
      process.exit(0);
    }
    const rows = await target.read();
    if (args.json) process.stdout.write(`${JSON.stringify(args.socket ? rows[0] : rows, null, 2)}\n`);
    else {
      process.stdout.write(renderStatusTable(rows, { color: colorEnabled() }));
      const note = statusNote(rows, args.socket ? { socket: args.socket } : { config: target.label });
      if (note) process.stdout.write(note);
    }
    process.exit(statusExitCode(rows));
  },
});

/**
 * 0: every service answers and its server is ready (or idle: lazy, waiting for a client, dormant);
 * 1: one is failed, cannot start, or does not answer; 2: none answers; 6: one's server has not
 * answered yet (starting, initializing, restarting, waking: `mux health` says 6 for it too).
 */
export function statusExitCode(rows: StatusRow[]): number {
  if (rows.every((r) => r.state === "down")) return 2;
  if (rows.some((r) => r.state === "down" || r.state === "failed" || r.startFailure)) return 1;
  return rows.some((r) => NOT_ANSWERED_YET.has(String(r.state))) ? 6 : 0;
}

/** States in which the service's server has not answered yet (health's `starting`). */
const NOT_ANSWERED_YET = new Set(["starting", "initializing", "restarting", "waking"]);

/** Status rows of every service of a config: from its daemon, else probed socket by socket. */
export async function configStatus(path: string): Promise<StatusRow[]> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(path);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  const daemon = await ask(controlSocketPath(path));
  const fromDaemon = new Map<string, StatusRow>();
  if (isObject(daemon) && Array.isArray(daemon.services)) {
    for (const s of daemon.services as StatusRow[]) fromDaemon.set(String(s.service), s);
  }
  return Promise.all(
    Object.entries(config.services).map(async ([name, svc]) => {
      const known = fromDaemon.get(name) ?? fromDaemon.get(String(svc.serviceName));
      if (known) return known;
      return (await askStatus(svc.socket)) ?? { service: name, socket: svc.socket, state: "down" };
    }),
  );
}

/** A column of the status table: header and cell. `rates` holds requests/s per service (watch). */
type Column = [string, (s: StatusRow, rates?: Map<string, number>) => string];

const dash = (v: unknown): string => (v === undefined || v === null ? "-" : String(v));
const num = (v: unknown): string => (typeof v === "number" ? String(v) : "-");

/** The columns, each saying what it counts. */
const COLUMNS: Column[] = [
  ["SERVICE", (s) => String(s.service)],
  ["STATE", (s) => String(s.state)],
  [
    "PID",
    (s) =>
      s.mode === "isolated" || s.mode === "workspace"
        ? `${(s.childPids as unknown[])?.length ?? 0} children`
        : dash(s.childPid),
  ],
  [
    "CLIENTS",
    (s) =>
      typeof s.idleClients === "number" && s.idleClients > 0
        ? `${num(s.connectedClients)} (${s.idleClients} idle)`
        : num(s.connectedClients),
  ],
  ["ACTIVE/LIMIT", (s) => (s.activeClients === undefined ? "-" : `${num(s.activeClients)}/${num(s.maxActiveClients)}`)],
  ["QUEUED", (s) => num(s.queuedRequests)],
  ["AT SERVER", (s) => num(s.pendingRequests)],
  [
    "REQ/S",
    (s, rates) => {
      const r = rates?.get(String(s.service));
      return r === undefined ? "-" : r < 10 ? r.toFixed(1) : String(Math.round(r));
    },
  ],
  ["RESTARTS", (s) => num(s.restarts)],
  ["SERVER UP", (s) => (typeof s.childUptimeMs === "number" ? formatDuration(s.childUptimeMs) : "-")],
  ["MUX UP", (s) => (typeof s.uptimeMs === "number" ? formatDuration(s.uptimeMs) : "-")],
];

/**
 * Render snapshots as an aligned table. Below it, one line per service with a reason worth
 * reading: why it failed, why it last restarted. `socket` adds the socket column.
 */
export function renderStatusTable(
  rows: StatusRow[],
  options: { rates?: Map<string, number>; socket?: boolean; color?: boolean; width?: number } = {},
): string {
  const columns = (options.rates ? COLUMNS : COLUMNS.filter(([h]) => h !== "REQ/S")).slice();
  if (options.socket !== false) columns.push(["SOCKET", (s) => dash(s.socket)]);
  const cells = [columns.map(([h]) => h), ...rows.map((r) => columns.map(([, f]) => f(r, options.rates)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  const stateAt = (widths[0] ?? 0) + 2;
  const lines = cells.map((row, n) => {
    let line = row
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
    if (options.width !== undefined) line = line.slice(0, options.width);
    const state = row[1] ?? "";
    const code = STATE_COLORS[state];
    // The state in its colour, when it is shown whole.
    if (options.color && n > 0 && code !== undefined && line.length >= stateAt + state.length)
      line = `${line.slice(0, stateAt)}\x1b[${code}m${state}\x1b[39m${line.slice(stateAt + state.length)}`;
    return line;
  });
  for (const r of rows) {
    // One line per workspace child of a `share = "workspace"` service.
    for (const w of (Array.isArray(r.workspaces) ? r.workspaces : []) as Record<string, unknown>[]) {
      const line = `  ${String(r.service)} @ ${printable(String(w.dir))}: ${String(w.state)}, pid ${dash(w.pid)}, ${num(w.clients)} clients, ${num(w.requests)} requests, idle ${typeof w.idleMs === "number" ? formatDuration(w.idleMs) : "-"}`;
      lines.push(options.width === undefined ? line : line.slice(0, options.width));
    }
    let why = "";
    if (r.failReason) why = `${String(r.service)}: failed: ${printable(String(r.failReason))}`;
    else if (r.startFailure)
      why = `${String(r.service)}: cannot start (mux retries): ${printable(String(r.lastRestartReason ?? r.startFailure))}`;
    else if (r.lastRestartReason && Number(r.restarts) > 0)
      why = `${String(r.service)}: last restart: ${printable(String(r.lastRestartReason))}`;
    if (why) lines.push(options.width === undefined ? why : why.slice(0, options.width));
  }
  return `${lines.join("\n")}\n`;
}

/** One plain line for a refresh of `--watch` through a pipe: every service, `;`-separated. */
export function statusLine(rows: StatusRow[], rates: Map<string, number>, at = new Date()): string {
  const parts = rows.map((s) => {
    const rate = rates.get(String(s.service));
    const fields = [
      `${String(s.service)} ${String(s.state)}`,
      `pid=${dash(s.childPid)}`,
      `clients=${num(s.connectedClients)}`,
      `active=${num(s.activeClients)}/${num(s.maxActiveClients)}`,
      `queued=${num(s.queuedRequests)}`,
      `at_server=${num(s.pendingRequests)}`,
      `req_s=${rate === undefined ? "-" : rate.toFixed(1)}`,
      `restarts=${num(s.restarts)}`,
      `server_up=${typeof s.childUptimeMs === "number" ? formatDuration(s.childUptimeMs).replace(" ", "") : "-"}`,
    ];
    if (s.failReason) fields.push(`reason=${JSON.stringify(String(s.failReason))}`);
    else if (s.startFailure)
      fields.push(`cannot_start=${JSON.stringify(String(s.lastRestartReason ?? s.startFailure))}`);
    else if (s.lastRestartReason) fields.push(`last_restart=${JSON.stringify(String(s.lastRestartReason))}`);
    return fields.join(" ");
  });
  return `${at.toISOString()} ${parts.join("; ")}\n`;
}

/** A line under the table saying what the exit code will mean, when something is wrong. */
function statusNote(rows: StatusRow[], how: { socket?: string; config?: string }): string {
  const down = rows.filter((r) => r.state === "down");
  if (down.length === 0) return "";
  if (how.socket) return `no mux answers on ${how.socket}\n`;
  if (down.length === rows.length)
    return `no daemon runs ${how.config} (start it with mux serve --config ${how.config}, or let a host's mux-proxy --config start it)\n`;
  return `not answering: ${down.map((r) => String(r.service)).join(", ")}\n`;
}

// --- internal ---

const STATE_COLORS: Record<string, number> = {
  ready: 32,
  waiting: 36,
  lazy: 36,
  dormant: 36,
  waking: 33,
  starting: 33,
  initializing: 33,
  restarting: 33,
  failed: 31,
  down: 31,
  stopped: 90,
};

async function askStatus(socket: string): Promise<StatusRow | undefined> {
  const r = await ask(socket);
  return isObject(r) ? r : undefined;
}

async function ask(socket: string): Promise<unknown> {
  try {
    const conn = await connectRpc(socket, 1000);
    const answer = await conn.request("mcp-mux/status", undefined, 2000);
    conn.close();
    return answer.result;
  } catch {
    return undefined;
  }
}

/** `42s`, `3m 5s`, `2h 10m`, `4d 1h`. */
export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
