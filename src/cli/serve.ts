/**
 * `mux serve`: one service from flags, or every service of a config file (`--config`, or the
 * per-user default when neither `--socket` nor `--cmd` is given). Runs until SIGINT/SIGTERM;
 * SIGHUP reloads the config.
 * @module
 */

import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { defineCommand } from "citty";
import { tryLock } from "../client/lock.ts";
import { ensurePrivateDir } from "../client/safe-path.ts";
import { findConfig, loadConfig } from "../config/load.ts";
import { controlSocketPath, daemonFiles } from "../config/paths.ts";
import { MIN_SESSION_IDLE_MS } from "../config/schema.ts";
import { isMuxError } from "../errors.ts";
import { loadOrCreateToken } from "../http/token.ts";
import { startControl } from "../mux/control.ts";
import { startServices } from "../mux/multi.ts";
import type { HttpOptions } from "../mux/options.ts";
import { startMux } from "../mux/serve.ts";
import { list, parseServiceFlags, serviceFlags } from "./flags.ts";
import { CLI_LOG_LEVELS, createCliLogger, fail } from "./logger.ts";

/** The `serve` subcommand. */
export const serveCommand = defineCommand({
  meta: { name: "serve", description: "Run a mux: one MCP server shared by every client of a Unix socket" },
  args: {
    socket: { type: "string", description: "Unix socket path clients connect to" },
    cmd: { type: "string", description: "MCP server command (its arguments go after --)" },
    config: { type: "string", description: "Run the services of this config file (JSON, YAML or TOML)" },
    service: { type: "string", description: "With a config: run only this service" },
    only: { type: "string", description: "With a config: run only these services (a,b)" },
    except: { type: "string", description: "With a config: run all but these services (a,b)" },
    ...serviceFlags,
    "log-level": { type: "string", description: "error | warn | info (default) | debug | trace" },
    "idle-exit-ms": {
      type: "string",
      description:
        "With a config: exit after this long without clients (default: off; auto-started: idle_exit_ms or 600000)",
    },
    "auto-started": { type: "boolean", description: "Started by a mux-proxy (enables idle exit)" },
    http: {
      type: "string",
      description: "Also serve Streamable HTTP on HOST:PORT (/mcp, or /mcp/<service> with a config)",
    },
    "http-token-file": {
      type: "string",
      description: "Require Authorization: Bearer <token> from this file (created 0600 with a random token if missing)",
    },
    "http-allow-host": { type: "string", description: "Host names accepted besides localhost (a,b)" },
    "http-session-idle-ms": {
      type: "string",
      description: "End an HTTP session with no open stream and no request for this long (default 1800000)",
    },
    tray: { type: "boolean", description: "Show a status icon with a menu per service and Quit (needs a desktop)" },
  },
  async run({ args }) {
    const level = args["log-level"];
    if (level !== undefined && !(CLI_LOG_LEVELS as readonly string[]).includes(level))
      fail(`invalid --log-level ${level}`);
    const flags = parseServiceFlags(args);
    const extraArgs = (args._ ?? []).map(String);
    const configPath = args.config ?? (!args.socket && !args.cmd ? findConfig() : undefined);
    if (configPath) return serveConfig(configPath, args, flags, extraArgs);
    if (!args.socket) fail("--socket is required (or --config FILE for a config with several services)");
    if (!args.cmd) fail("--cmd is required (the MCP server command; put its arguments after --)");
    const logger = createCliLogger(level ?? "info", flags.serviceName);
    // Signals are handled from the start: one that arrives while the socket is being bound
    // stops the daemon as soon as it is up, instead of killing it half-started.
    const stop = onStop(logger, ["SIGINT", "SIGTERM", "SIGHUP"]);
    const http = httpOptions(args, undefined);
    let handle: Awaited<ReturnType<typeof startMux>>;
    try {
      handle = await startMux({ ...flags, socket: args.socket, cmd: args.cmd, args: extraArgs, logger, http });
    } catch (error) {
      fail(isMuxError(error) ? error.message : String(error));
    }
    logger.info(`listening on ${handle.socket}; connect hosts with: mux-proxy --socket ${handle.socket}`);
    if (handle.httpUrl) logger.info(`Streamable HTTP: ${handle.httpUrl}`);
    const tray = args.tray ? await showTray(() => [handle.status()], stop, logger) : undefined;
    // A single service has nothing to reload: SIGHUP (a closed terminal or SSH session) stops it cleanly.
    stop.ready(async () => {
      await tray?.close();
      await handle.close();
    });
    await handle.closed;
    await tray?.close();
  },
});

// --- internal ---

async function serveConfig(
  path: string,
  args: Record<string, unknown>,
  flags: ReturnType<typeof parseServiceFlags>,
  extraArgs: string[],
): Promise<void> {
  const level = args["log-level"] as string | undefined;
  const log = createCliLogger(level ?? "info");
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(path);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  for (const w of config.warnings) log.warn(w);
  // One daemon per config: a second one (two proxies starting it at once, or a hand-started
  // one beside a login service) would split the services between them.
  let lock: ReturnType<typeof tryLock>;
  try {
    const lockFile = daemonFiles(path).daemonLock;
    ensurePrivateDir(dirname(lockFile));
    lock = tryLock(lockFile);
  } catch (error) {
    fail(isMuxError(error) ? error.message : `cannot lock the config: ${String(error)}`);
  }
  if (lock === undefined) {
    if (args["auto-started"]) {
      log.info(`another daemon already runs ${path}; this one is not needed`);
      process.exit(0);
    }
    fail(`another mux daemon already runs ${path} (see: mux status --config ${path})`);
  }
  // Released (and its file removed) however the process ends, even on a startup failure.
  process.on("exit", () => lock?.release());
  const autoStarted = args["auto-started"] === true;
  // Started explicitly (by hand, by the login service): `mux stop`'s marker goes, so hosts may
  // start this daemon again after it ends.
  if (!autoStarted) (await import("./stop.ts")).clearStopMarker(path);
  else if (existsSync(daemonFiles(path).stopMarker))
    fail(`the daemon of ${path} was stopped with mux stop: not starting (start it with: mux serve --config ${path})`);
  const idleFlag = args["idle-exit-ms"] === undefined ? undefined : Number(args["idle-exit-ms"]);
  if (idleFlag !== undefined && !(Number.isInteger(idleFlag) && idleFlag >= 0))
    fail(`--idle-exit-ms must be an integer ≥ 0, got ${String(args["idle-exit-ms"])}`);
  const idleExitMs = idleFlag ?? (autoStarted ? (config.daemon.idleExitMs ?? DEFAULT_IDLE_EXIT_MS) : 0);
  if (autoStarted)
    log.info(`auto-started (PATH=${process.env.PATH ?? ""}); exits after ${idleExitMs} ms without clients`);
  const only = args.service ? [String(args.service)] : list(args.only);
  const overrides = { ...flags } as Record<string, unknown>;
  if (args.socket || args.cmd || extraArgs.length > 0) {
    const selected = only ?? Object.keys(config.services).filter((n) => !list(args.except)?.includes(n));
    if (selected.length !== 1)
      fail("--socket, --cmd and server arguments need exactly one service (use --service NAME)");
    Object.assign(overrides, {
      socket: args.socket,
      cmd: args.cmd,
      args: extraArgs.length > 0 ? extraArgs : undefined,
    });
  }
  const stop = onStop(log);
  // SIGHUP reloads; one that comes before the services are up has nothing newer to load.
  let reloadNow: (() => void) | undefined;
  process.on("SIGHUP", () => reloadNow?.());
  let handle: Awaited<ReturnType<typeof startServices>>;
  try {
    handle = await startServices(config, {
      only,
      except: list(args.except),
      overrides,
      logger: (name, svc) => createCliLogger(level ?? svc.logLevel ?? "info", name),
      idleExitMs,
      onIdle: () => log.info(`no clients for ${idleExitMs} ms: exiting`),
      http: httpOptions(args, config.daemon.http),
      httpLogger: createCliLogger(level ?? "info", "http"),
    });
  } catch (error) {
    fail(isMuxError(error) ? error.message : String(error));
  }
  if (handle.services.size === 0) {
    await handle.close();
    fail(`no service could start: ${[...handle.failures].map(([n, r]) => `${n}: ${r}`).join("; ")}`);
  }
  const reload = async (): Promise<unknown> => {
    let next: ReturnType<typeof loadConfig>;
    try {
      next = loadConfig(path);
    } catch (error) {
      log.error(`reload rejected, services keep running: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
    for (const w of next.warnings) log.warn(w);
    const result = await handle.reload(next);
    log.info(`reloaded ${path}: ${JSON.stringify(result)}`);
    return next.warnings.length > 0 ? { ...result, warnings: next.warnings } : result;
  };
  let control: Awaited<ReturnType<typeof startControl>> | undefined;
  try {
    control = await startControl(controlSocketPath(path), {
      status: () => ({ config: path, muxPid: process.pid, services: handle.status() }),
      reload,
    });
  } catch (error) {
    log.warn(`control socket unavailable (mux reload/status --config will not reach this daemon): ${String(error)}`);
  }
  for (const [name, s] of handle.services)
    log.info(`${name}: listening on ${s.socket}${handle.httpUrl ? ` and ${handle.httpUrl}/${name}` : ""}`);
  reloadNow = () => {
    reload().catch(() => {});
  };
  const tray = (args.tray ?? config.daemon.tray) ? await showTray(() => handle.status(), stop, log) : undefined;
  stop.ready(async () => {
    control?.close();
    await tray?.close();
    await handle.close();
  });
  await handle.closed;
  control?.close();
  await tray?.close();
  process.exit(0);
}

/** The HTTP front from flags (which win) or the config's `http`; undefined when neither asks for one. */
function httpOptions(
  args: Record<string, unknown>,
  fromConfig: { listen: string; tokenFile?: string; allowedHosts?: string[]; sessionIdleMs?: number } | undefined,
): HttpOptions | undefined {
  const listen = (args.http as string | undefined) ?? fromConfig?.listen;
  if (!listen) return undefined;
  const tokenFile = (args["http-token-file"] as string | undefined) ?? fromConfig?.tokenFile;
  let token: string | undefined;
  if (tokenFile) {
    try {
      token = loadOrCreateToken(tokenFile);
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
    }
  }
  const allowedHosts = list(args["http-allow-host"]) ?? fromConfig?.allowedHosts;
  let sessionIdleMs = fromConfig?.sessionIdleMs;
  const idleRaw = args["http-session-idle-ms"];
  if (idleRaw !== undefined) {
    sessionIdleMs = Number(idleRaw);
    if (!Number.isInteger(sessionIdleMs) || sessionIdleMs < MIN_SESSION_IDLE_MS)
      fail(`--http-session-idle-ms must be an integer ≥ ${MIN_SESSION_IDLE_MS}, got ${String(idleRaw)}`);
  }
  return { listen, token, allowedHosts, sessionIdleMs };
}

/** How long an auto-started daemon stays without clients before it exits. */
const DEFAULT_IDLE_EXIT_MS = 600_000;

/**
 * Handle stop signals from now on; `ready(close)` gives the way to stop once the daemon is
 * up (a signal that came earlier is acted on at that moment).
 */
/** The status icon, loaded only when asked for (a daemon without it pays nothing). */
async function showTray(
  status: () => import("../tray/menu.ts").TrayService[],
  stop: Stopper,
  logger: ReturnType<typeof createCliLogger>,
): Promise<import("../tray/tray.ts").TrayHandle> {
  const { startTray } = await import("../tray/tray.ts");
  return startTray({ status, onQuit: () => stop.request("tray Quit"), logger });
}

/** Shutting down once, by signal or by request (the tray's Quit). */
interface Stopper {
  ready(close: () => Promise<void>): void;
  request(reason: string): void;
}

function onStop(logger: { info(m: string): void }, signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM"]): Stopper {
  let close: (() => Promise<void>) | undefined;
  let requested: string | undefined;
  let stopping = false;
  const stop = (signal: string): void => {
    if (!close) {
      requested ??= signal;
      return;
    }
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: shutting down`);
    void close().then(() => process.exit(0));
  };
  for (const signal of signals) process.on(signal, () => stop(signal));
  return {
    ready(fn) {
      close = fn;
      if (requested) stop(requested);
    },
    request: stop,
  };
}
