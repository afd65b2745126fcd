/**
 * `mux status`: ask a running daemon for its status snapshot.
 * @module
 */

import { defineCommand } from "citty";
import { connectRpc } from "../client/rpc.ts";
import { isObject } from "../protocol/message.ts";
import { fail } from "./logger.ts";

/** The `status` subcommand. */
export const statusCommand = defineCommand({
  meta: { name: "status", description: "Show a running service's status" },
  args: {
    socket: { type: "string", description: "The mux socket path" },
    json: { type: "boolean", description: "Print JSON" },
  },
  async run({ args }) {
    if (!args.socket) fail("--socket is required");
    let conn: Awaited<ReturnType<typeof connectRpc>>;
    try {
      conn = await connectRpc(args.socket);
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
    }
    const answer = await conn.request("mcp-mux/status");
    conn.close();
    if (!isObject(answer.result)) fail(`no status from ${args.socket}: ${JSON.stringify(answer.error ?? answer)}`);
    const status = answer.result;
    if (args.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    else process.stdout.write(renderStatusTable([status]));
    process.exit(0);
  },
});

/** Render snapshots as an aligned text table. */
export function renderStatusTable(rows: Record<string, unknown>[]): string {
  const columns: [string, (s: Record<string, unknown>) => string][] = [
    ["SERVICE", (s) => String(s.service)],
    ["STATE", (s) => String(s.state) + (s.failReason ? ` (${String(s.failReason)})` : "")],
    ["PID", (s) => String(s.childPid ?? "-")],
    ["CLIENTS", (s) => `${String(s.activeClients)}/${String(s.connectedClients)} (max ${String(s.maxActiveClients)})`],
    ["PENDING", (s) => String(s.pendingRequests)],
    ["QUEUED", (s) => String(s.queuedRequests)],
    ["RESTARTS", (s) => String(s.restarts)],
    ["INIT", (s) => (s.initializeCached ? "cached" : "-")],
    ["UPTIME", (s) => formatDuration(Number(s.uptimeMs))],
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

function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
