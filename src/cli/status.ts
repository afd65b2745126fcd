/**
 * `mux status`: one service (`--socket`) or every service of a config (`--config`).
 * @module
 */

import { defineCommand } from "citty";
import { connectRpc } from "../client/rpc.ts";
import { findConfig, loadConfig } from "../config/load.ts";
import { controlSocketPath } from "../config/paths.ts";
import { isObject } from "../protocol/message.ts";
import { fail } from "./logger.ts";

/** The `status` subcommand. */
export const statusCommand = defineCommand({
  meta: { name: "status", description: "Show the status of a running service, or of every service of a config" },
  args: {
    socket: { type: "string", description: "The mux socket path" },
    config: { type: "string", description: "Show every service of this config" },
    json: { type: "boolean", description: "Print JSON" },
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
    let rows: Record<string, unknown>[];
    if (args.socket) {
      const status = await askStatus(args.socket);
      if (!status) fail(`no mux is answering on ${args.socket}`);
      rows = [status];
    } else {
      const path = findConfig(args.config);
      if (!path) fail("give --socket PATH or --config FILE (no per-user config found)");
      rows = await configStatus(path);
    }
    if (args.json) process.stdout.write(`${JSON.stringify(args.socket ? rows[0] : rows, null, 2)}\n`);
    else process.stdout.write(renderStatusTable(rows));
    process.exit(0);
  },
});

/** Status rows of every service of a config: from its daemon, else probed socket by socket. */
export async function configStatus(path: string): Promise<Record<string, unknown>[]> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(path);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  const daemon = await ask(controlSocketPath(path));
  const fromDaemon = new Map<string, Record<string, unknown>>();
  if (isObject(daemon) && Array.isArray(daemon.services)) {
    for (const s of daemon.services as Record<string, unknown>[]) fromDaemon.set(String(s.service), s);
  }
  return Promise.all(
    Object.entries(config.services).map(async ([name, svc]) => {
      const known = fromDaemon.get(name) ?? fromDaemon.get(String(svc.serviceName));
      if (known) return known;
      return (await askStatus(svc.socket)) ?? { service: name, socket: svc.socket, state: "down" };
    }),
  );
}

/** Render snapshots as an aligned text table. */
export function renderStatusTable(rows: Record<string, unknown>[]): string {
  const dash = (v: unknown): string => (v === undefined || v === null ? "-" : String(v));
  const columns: [string, (s: Record<string, unknown>) => string][] = [
    ["SERVICE", (s) => String(s.service)],
    ["STATE", (s) => String(s.state) + (s.failReason ? ` (${String(s.failReason)})` : "")],
    ["PID", (s) => (s.mode === "isolated" ? `${(s.childPids as unknown[])?.length ?? 0} children` : dash(s.childPid))],
    [
      "CLIENTS",
      (s) =>
        s.connectedClients === undefined
          ? "-"
          : `${dash(s.activeClients)}/${dash(s.connectedClients)} (max ${dash(s.maxActiveClients)})`,
    ],
    ["PENDING", (s) => dash(s.pendingRequests)],
    ["QUEUED", (s) => dash(s.queuedRequests)],
    ["RESTARTS", (s) => dash(s.restarts)],
    ["INIT", (s) => (s.initializeCached ? "cached" : "-")],
    ["UPTIME", (s) => (typeof s.uptimeMs === "number" ? formatDuration(s.uptimeMs) : "-")],
    ["SOCKET", (s) => dash(s.socket)],
  ];
  const cells = [columns.map(([h]) => h), ...rows.map((r) => columns.map(([, f]) => f(r)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  return `${cells
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}

// --- internal ---

async function askStatus(socket: string): Promise<Record<string, unknown> | undefined> {
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

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
