/**
 * The tray menu from status snapshots: a section per service (state, clients, requests,
 * initialize cache, restarts with the last reason, server pid), then "Open dashboard" (when the
 * daemon serves one) and "Quit mux". Items are
 * a flat list with stable ids, so a refresh only sends the lines that changed.
 * @module
 */

import type { StatusSnapshot } from "../mux/status.ts";

/** A service as the menu needs it: a full snapshot, or only name, state and reason (failed to start). */
export type TrayService = Pick<StatusSnapshot, "service" | "state"> &
  Partial<Omit<StatusSnapshot, "service" | "state">>;

import type { TrayLevel } from "./icon.ts";

/** One menu line as the helper takes it (`enabled` must be sent: it defaults to false). */
export interface TrayItem {
  title: string;
  tooltip: string;
  enabled: boolean;
  checked: boolean;
  hidden: boolean;
  __id: number;
}

/** The title of the separator line. */
export const SEPARATOR = "<SEPARATOR>";
/** The title of the item that stops the daemon. */
export const QUIT_TITLE = "Quit mux";
/** The title of the item that opens the dashboard in the browser. */
export const DASHBOARD_TITLE = "Open dashboard";

/** Lines per service section (header, five details, up to four workspace children, separator). */
const SECTION = 11;

/** The items for these services, ids from 1 in order; then "Open dashboard" (when served) and Quit. */
export function menuItems(services: TrayService[], dashboard = false): TrayItem[] {
  const titles: [string, boolean][] = [];
  for (const s of services) {
    const lines = serviceLines(s);
    titles.push(...lines.map((t) => [t, false] as [string, boolean]), [SEPARATOR, false]);
  }
  if (dashboard) titles.push([DASHBOARD_TITLE, true]);
  titles.push([QUIT_TITLE, true]);
  return titles.map(([title, enabled], i) => ({
    title,
    tooltip: "",
    enabled,
    checked: false,
    hidden: false,
    __id: i + 1,
  }));
}

/** The section of one service: what the original's menu showed, in words. */
export function serviceLines(s: TrayService): string[] {
  const n = (v: number | undefined) => (v === undefined ? "-" : String(v));
  const pid =
    s.mode === "isolated" || s.mode === "workspace"
      ? `${s.childPids?.length ?? 0} children`
      : String(s.childPid ?? "none");
  const lines = [
    `${s.service}: ${s.state}${s.failReason ? ` (${s.failReason})` : ""}`,
    `    clients: ${n(s.connectedClients)} connected, ${n(s.activeClients)} active (limit ${n(s.maxActiveClients)})`,
    `    requests: ${n(s.pendingRequests)} at the server, ${n(s.queuedRequests)} queued`,
    `    initialize: ${s.initializeCached ? `cached${s.protocolVersion ? ` (${s.protocolVersion})` : ""}` : "not yet"}`,
    `    restarts: ${n(s.restarts)}${s.lastRestartReason ? ` (last: ${s.lastRestartReason})` : ""}`,
    `    server pid: ${pid}`,
    ...(s.workspaces ?? []).map(
      (w) => `    ${w.dir}: ${w.state}, pid ${w.pid ?? "none"}, ${w.clients} clients, ${w.requests} requests`,
    ),
  ];
  return lines.map((l) => (l.length > 90 ? `${l.slice(0, 89)}…` : l)).slice(0, SECTION - 1);
}

/** States in which a server is on its way up (a dormant one waking included): the icon is busy. */
const BUSY_STATES = new Set(["starting", "initializing", "restarting", "waking"]);

/** The icon's level: failed beats busy beats ok; nothing running is stopped. */
export function trayLevel(services: TrayService[]): TrayLevel {
  if (services.length === 0 || services.every((s) => s.state === "stopped")) return "stopped";
  if (services.some((s) => s.state === "failed")) return "failed";
  if (services.some((s) => BUSY_STATES.has(s.state))) return "busy";
  return "ok";
}

/** The one-line summary (tooltip where shown, and the title on hosts that show labels). */
export function traySummary(services: TrayService[]): string {
  const by = new Map<string, number>();
  for (const s of services) by.set(s.state, (by.get(s.state) ?? 0) + 1);
  const parts = [...by].map(([state, n]) => `${n} ${state}`);
  return `mcp-mux: ${services.length} service${services.length === 1 ? "" : "s"}${parts.length ? ` (${parts.join(", ")})` : ""}`;
}
