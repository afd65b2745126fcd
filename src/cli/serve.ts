/**
 * `mux serve`: run one service in the foreground until SIGINT/SIGTERM.
 * @module
 */

import { defineCommand } from "citty";
import { isMuxError } from "../errors.ts";
import type { MuxOptions } from "../mux/options.ts";
import { ROOTS_POLICIES, type RootsPolicy } from "../mux/roots.ts";
import type { AmbiguousRoute } from "../mux/router.ts";
import { startMux } from "../mux/serve.ts";
import { CLI_LOG_LEVELS, createCliLogger, fail } from "./logger.ts";

/** The `serve` subcommand. */
export const serveCommand = defineCommand({
  meta: { name: "serve", description: "Run a mux: one MCP server shared by every client of a Unix socket" },
  args: {
    socket: { type: "string", description: "Unix socket path clients connect to" },
    cmd: { type: "string", description: "MCP server command (its arguments go after --)" },
    "service-name": { type: "string", description: "Name in logs and status (default: socket file name)" },
    "max-active-clients": { type: "string", description: "Clients with requests in flight at once (default 5)" },
    "lazy-start": { type: "boolean", description: "Start the server on the first request" },
    "max-request-bytes": { type: "string", description: "Largest client message (default 1048576)" },
    "request-timeout-ms": { type: "string", description: "Request deadline (default 30000)" },
    "restart-backoff-ms": { type: "string", description: "First restart delay (default 1000)" },
    "restart-backoff-max-ms": { type: "string", description: "Largest restart delay (default 30000)" },
    "max-restarts": { type: "string", description: "Consecutive failures before giving up (default 5, 0 = never)" },
    "healthy-after-ms": { type: "string", description: "Uptime that resets the failure count (default 60000)" },
    "status-file": { type: "string", description: "Write JSON status snapshots here" },
    "roots-policy": { type: "string", description: "intersection (default) | union | first | none" },
    "ambiguous-route": { type: "string", description: "error (default) | most-recent" },
    isolated: { type: "boolean", description: "Give each client its own server process (state not shared)" },
    "log-level": { type: "string", description: "error | warn | info (default) | debug | trace" },
  },
  async run({ args }) {
    const level = args["log-level"] ?? "info";
    if (!(CLI_LOG_LEVELS as readonly string[]).includes(level)) fail(`invalid --log-level ${level}`);
    if (!args.socket) fail("--socket is required (the Unix socket path clients connect to)");
    if (!args.cmd) fail("--cmd is required (the MCP server command; put its arguments after --)");
    const options: MuxOptions = {
      socket: args.socket,
      cmd: args.cmd,
      args: (args._ ?? []).map(String),
      serviceName: args["service-name"],
      maxActiveClients: int(args, "max-active-clients", 1),
      lazyStart: args["lazy-start"],
      maxRequestBytes: int(args, "max-request-bytes", 1),
      requestTimeoutMs: int(args, "request-timeout-ms", 1),
      restartBackoffMs: int(args, "restart-backoff-ms", 0),
      restartBackoffMaxMs: int(args, "restart-backoff-max-ms", 0),
      maxRestarts: int(args, "max-restarts", 0),
      healthyAfterMs: int(args, "healthy-after-ms", 0),
      statusFile: args["status-file"],
      rootsPolicy: oneOf(args, "roots-policy", ROOTS_POLICIES) as RootsPolicy | undefined,
      ambiguousRoute: oneOf(args, "ambiguous-route", ["error", "most-recent"]) as AmbiguousRoute | undefined,
      isolated: args.isolated,
    };
    const logger = createCliLogger(level, options.serviceName ?? undefined);
    let handle: Awaited<ReturnType<typeof startMux>>;
    try {
      handle = await startMux({ ...options, logger });
    } catch (error) {
      fail(isMuxError(error) ? error.message : String(error));
    }
    logger.info(`listening on ${handle.socket}; connect hosts with: mux-proxy --socket ${handle.socket}`);
    const stop = (signal: string): void => {
      logger.info(`${signal}: shutting down`);
      void handle.close().then(() => process.exit(0));
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
    await handle.closed;
  },
});

// --- internal ---

function int(args: Record<string, unknown>, name: string, min: number): number | undefined {
  const raw = args[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got ${String(raw)}`);
  return n;
}

function oneOf(args: Record<string, unknown>, name: string, allowed: readonly string[]): string | undefined {
  const raw = args[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== "string" || !allowed.includes(raw)) fail(`--${name} must be one of ${allowed.join(", ")}`);
  return raw;
}
