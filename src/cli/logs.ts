/**
 * `mux logs`: the record of a running daemon's services, read from its control socket (never
 * through MCP). Plain lines through a pipe, colour on a terminal, JSON lines with `--json`;
 * `--follow` prints new entries as they happen until Ctrl-C.
 *
 * Exit codes: 0 entries were printed (or `--follow` ended by Ctrl-C), 1 no daemon is running
 * (or it went away while following), 2 bad usage or an unknown service, 3 nothing matched.
 * @module
 */

import { defineCommand } from "citty";
import { findConfig } from "../config/load.ts";
import { controlSocketPath } from "../config/paths.ts";
import { controlPathOf } from "../mux/control.ts";
import type { RecordEntry } from "../mux/record.ts";
import { createLineSplitter } from "../protocol/framing.ts";
import { fail } from "./logger.ts";
import { colorEnabled, printable } from "./tty.ts";

/** Exit codes of `mux logs`. */
export const LOGS_EXIT = { ok: 0, notRunning: 1, usage: 2, nothing: 3 } as const;

/** The `logs` subcommand. */
export const logsCommand = defineCommand({
  meta: { name: "logs", description: "Show what flowed through a running daemon's services (its record)" },
  args: {
    service: { type: "string", description: "Only this service (of --config, or of the per-user config)" },
    socket: { type: "string", description: "The service listening on this socket (mux serve --socket)" },
    config: { type: "string", description: "The daemon running this config (default: the per-user config)" },
    client: { type: "string", description: "Only entries of clients whose host name contains this" },
    follow: { type: "boolean", alias: "f", description: "Keep printing new entries until Ctrl-C" },
    since: { type: "string", description: "Only entries since then: 30s, 10m, 2h, 1d or a date (ISO 8601)" },
    limit: { type: "string", description: "At most this many of the latest entries (default 1000)" },
    json: { type: "boolean", description: "One JSON object per line" },
  },
  async run({ args }) {
    if (args.socket && args.config) fail("give --socket or --config, not both", LOGS_EXIT.usage);
    let since: number | undefined;
    if (args.since !== undefined) {
      since = parseSince(String(args.since), Date.now());
      if (since === undefined)
        fail(
          `--since ${JSON.stringify(args.since)}: give 30s, 10m, 2h, 1d or a date like 2026-12-01T10:00`,
          LOGS_EXIT.usage,
        );
    }
    let limit: number | undefined;
    if (args.limit !== undefined) {
      limit = Number(args.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000)
        fail("--limit must be a whole number from 1 to 100000", LOGS_EXIT.usage);
    }
    let path: string;
    let target: string;
    if (args.socket) {
      path = controlPathOf(String(args.socket));
      target = `the service on ${args.socket}`;
    } else {
      const config = findConfig(args.config);
      if (!config) fail("give --socket PATH or --config FILE (no per-user config found)", LOGS_EXIT.usage);
      path = controlSocketPath(config);
      target = `the daemon of ${config}`;
    }
    const color = !args.json && colorEnabled();
    const print = (e: RecordEntry): void => {
      process.stdout.write(args.json ? `${JSON.stringify(e)}\n` : `${renderEntry(e, color)}\n`);
    };
    const params: Record<string, unknown> = {};
    if (args.service) params.service = String(args.service);
    if (args.client) params.client = String(args.client);
    if (since !== undefined) params.since = since;
    if (limit !== undefined) params.limit = limit;
    if (args.follow) params.follow = true;
    const code = await readLogs(path, params, {
      first(result) {
        for (const e of result.entries) print(e);
        if (result.entries.length === 0 && !args.follow) {
          process.stderr.write(
            `mux: no entries match${describe(args)} (services: ${result.services.join(", ") || "none"})\n`,
          );
          return LOGS_EXIT.nothing;
        }
        return args.follow ? undefined : LOGS_EXIT.ok;
      },
      entry: print,
      notRunning(why) {
        process.stderr.write(`mux: no daemon is running for ${target} (${why})\n`);
      },
      refused(message) {
        process.stderr.write(`mux: ${message}\n`);
      },
      ended() {
        process.stderr.write("mux: the daemon closed the connection\n");
      },
    });
    process.exit(code);
  },
});

/** `30s`, `10m`, `2h`, `1d` before `now`, or a date; undefined when it is neither. */
export function parseSince(text: string, now: number): number | undefined {
  const rel = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text.trim());
  if (rel) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as "s"];
    return now - Number(rel[1]) * unit;
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const t = Date.parse(text);
  return Number.isFinite(t) ? t : undefined;
}

/** One entry as a line: time, service, client, direction, kind, method, id, duration, outcome, size. */
export function renderEntry(e: RecordEntry, color: boolean): string {
  const paint = (code: string, s: string): string => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const time = new Date(e.t).toISOString().slice(11, 23);
  const head = `${paint("2", time)} ${printable(e.service)}`;
  if (e.type === "stderr") return `${head} ${paint("2", "stderr")} ${printable(e.text ?? "")}`;
  if (e.type === "event") return `${head} ${paint("33", "event")}  ${printable(e.text ?? "")}`;
  const who = e.client ? `${printable(e.client.name ?? "?")}#${e.client.id}` : "-";
  const arrow = e.dir === "in" ? paint("36", "→") : paint("35", "←");
  const parts = [head, who, arrow, e.kind ?? "?"];
  if (e.method) parts.push(paint("1", printable(e.method)));
  if (e.id !== undefined) parts.push(`id=${printable(e.id)}`);
  if (e.ms !== undefined) parts.push(`${e.ms}ms`);
  if (e.code !== undefined) parts.push(paint("31", `error ${e.code}`));
  if (e.bytes !== undefined) parts.push(`${e.bytes}B`);
  if (e.client?.workspace) parts.push(paint("2", `[${printable(e.client.workspace)}]`));
  if (e.client?.pid) parts.push(paint("2", `(pid ${e.client.pid})`));
  let line = parts.join(" ");
  if (e.payload !== undefined) line += ` ${printable(JSON.stringify(e.payload))}`;
  return line;
}

// --- internal ---

interface LogsResult {
  services: string[];
  entries: RecordEntry[];
}

/** Ask the control socket for the record; resolves with the exit code. */
function readLogs(
  path: string,
  params: Record<string, unknown>,
  on: {
    first(r: LogsResult): number | undefined;
    entry(e: RecordEntry): void;
    notRunning(why: string): void;
    refused(message: string): void;
    ended(): void;
  },
): Promise<number> {
  return new Promise((resolve) => {
    let answered = false;
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      resolve(code);
    };
    process.once("SIGINT", () => finish(LOGS_EXIT.ok));
    process.once("SIGTERM", () => finish(LOGS_EXIT.ok));
    const splitter = createLineSplitter(
      {
        line(text) {
          let msg: Record<string, unknown>;
          try {
            msg = JSON.parse(text) as Record<string, unknown>;
          } catch {
            return;
          }
          if (!answered && msg.id === 1) {
            answered = true;
            const error = msg.error as { code?: number; message?: string } | undefined;
            if (error) {
              on.refused(String(error.message ?? "the daemon refused the request"));
              return finish(error.code === -32601 ? LOGS_EXIT.notRunning : LOGS_EXIT.usage);
            }
            const code = on.first(msg.result as LogsResult);
            if (code !== undefined) finish(code);
            return;
          }
          if (msg.method === "mcp-mux/log") on.entry(msg.params as RecordEntry);
        },
      },
      { maxLineBytes: 64 * 1024 * 1024 },
    );
    Bun.connect({
      unix: path,
      socket: {
        open(s) {
          s.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "mcp-mux/logs", params })}\n`);
        },
        data(_s, chunk) {
          splitter.push(chunk);
        },
        close() {
          if (done) return;
          if (!answered) {
            on.notRunning("the control socket closed without an answer");
            return finish(LOGS_EXIT.notRunning);
          }
          on.ended();
          finish(LOGS_EXIT.notRunning);
        },
        error() {},
      },
    }).catch((error: unknown) => {
      const code = (error as { code?: string }).code;
      on.notRunning(
        code === "ENOENT"
          ? `no control socket at ${path}`
          : code === "ECONNREFUSED"
            ? `nothing listens on ${path}`
            : String(error),
      );
      finish(LOGS_EXIT.notRunning);
    });
  });
}

function describe(args: Record<string, unknown>): string {
  const parts: string[] = [];
  if (args.service) parts.push(`service ${args.service}`);
  if (args.client) parts.push(`client ${JSON.stringify(args.client)}`);
  if (args.since) parts.push(`since ${args.since}`);
  return parts.length ? ` (${parts.join(", ")})` : "";
}
