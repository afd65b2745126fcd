/**
 * `mux serve`: one service from flags, or every service of a config file (`--config`, or the
 * per-user default when neither `--socket` nor `--cmd` is given). Only arguments, signals,
 * printing and the exit code are here: the daemon itself is `startDaemon` (config/daemon.ts).
 * Runs until SIGINT/SIGTERM; SIGHUP reloads the config.
 * @module
 */

import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { defineCommand } from "citty";
import { ensurePrivateDir } from "../client/safe-path.ts";
import { type DaemonHandle, type DaemonOverrides, httpFront, startDaemon } from "../config/daemon.ts";
import { findConfig } from "../config/load.ts";
import { daemonFiles, defaultSocketPath, defaultTokenFile } from "../config/paths.ts";
import { isMuxError } from "../errors.ts";
import { type DashboardServer, startDashboard } from "../http/dashboard.ts";
import { loadOrCreateToken } from "../http/token.ts";
import { controlPathOf, startControl } from "../mux/control.ts";
import { raiseDescriptorLimit } from "../mux/descriptors.ts";
import type { ServiceOptions } from "../mux/options.ts";
import { startMux } from "../mux/serve.ts";
import { list, optionFlags, parseFlags, parseServiceFlags } from "./flags.ts";
import { createCliLogger, fail } from "./logger.ts";

/** The `serve` subcommand. */
export const serveCommand = defineCommand({
  meta: { name: "serve", description: "Run a mux: one MCP server shared by every client of a Unix socket" },
  args: {
    config: { type: "string", description: "Run the services of this config file (JSON, YAML or TOML)" },
    service: { type: "string", description: "With a config: run only this service" },
    only: { type: "string", description: "With a config: run only these services (a,b)" },
    except: { type: "string", description: "With a config: run all but these services (a,b)" },
    // Every option flag (services, log level, daemon, HTTP front) comes from the option table.
    ...optionFlags,
    "auto-started": { type: "boolean", description: "Started by a mux-proxy (enables idle exit)" },
  },
  async run({ args }) {
    // A daemon serves many clients: the soft descriptor limit goes up to the hard one.
    raiseDescriptorLimit();
    const level = parseFlags(args, "cli").logLevel as string | undefined;
    const { socket, cmd, ...flags } = parseServiceFlags(args);
    const daemon = parseFlags(args, "daemon") as DaemonOverrides;
    daemon.http = parseFlags(args, "http");
    const extraArgs = (args._ ?? []).map(String);
    const configPath = (args.config as string | undefined) ?? (!socket && !cmd ? findConfig() : undefined);
    if (configPath) return serveConfig(configPath, args, { ...flags, socket, cmd }, daemon, extraArgs, level);
    if (!cmd) fail("--cmd is required (the MCP server command; put its arguments after --), or --config FILE");
    // Without --socket, the same default as a config's service: <runtime dir>/<name>.sock.
    const name = flags.serviceName ?? defaultNameOf(cmd, extraArgs);
    const path = socket ?? defaultSocketPath(name);
    const logger = createCliLogger(level ?? "info", flags.serviceName);
    // Signals are handled from the start: one that arrives while the socket is being bound
    // stops the daemon as soon as it is up, instead of killing it half-started.
    const stop = onStop(logger, ["SIGINT", "SIGTERM", "SIGHUP"]);
    let http: ReturnType<typeof httpFront>;
    try {
      http = httpFront(undefined, daemon.http, process.env, logger);
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
    }
    if (!socket) ensurePrivateDir(dirname(path));
    let handle: Awaited<ReturnType<typeof startMux>>;
    try {
      handle = await startMux({
        ...flags,
        serviceName: flags.serviceName ?? (socket ? undefined : name),
        socket: path,
        cmd,
        args: extraArgs,
        logger,
        http,
      });
    } catch (error) {
      fail(isMuxError(error) ? error.message : String(error));
    }
    logger.info(`listening on ${handle.socket}; connect hosts with: mux-proxy --socket ${handle.socket}`);
    // Its control socket (mux logs --socket, status): 0600 beside the service's socket.
    const records = () => new Map([[handle.serviceName, handle.recorder]]);
    let dashboard: DashboardServer | undefined;
    let dashboardToken: string | undefined;
    if (daemon.dashboard) {
      try {
        dashboardToken = http?.auth === "none" ? undefined : (http?.token ?? loadOrCreateToken(defaultTokenFile()));
        dashboard = startDashboard({
          listen: daemon.dashboard,
          token: dashboardToken,
          source: { status: () => [handle.status()], records },
        });
        logger.info(`dashboard at ${dashboard.url} (open it with: mux dashboard --socket ${handle.socket})`);
      } catch (error) {
        logger.error(
          `cannot serve the dashboard on ${daemon.dashboard}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    const dashboardInfo = (): { url: string; token: string | null } | undefined => {
      if (dashboard) return { url: dashboard.url, token: dashboardToken ?? null };
      if (handle.httpUrl) return { url: handle.httpUrl.replace(/\/mcp$/, "/dashboard"), token: http?.token ?? null };
      return undefined;
    };
    const control = await startControl(controlPathOf(handle.socket), {
      status: () => handle.status(),
      reload: () => Promise.reject(new Error("a single service has no config to reload")),
      records,
      dashboard: dashboardInfo,
    }).catch((error: unknown) => {
      logger.warn(`control socket unavailable (mux logs --socket will not reach this service): ${String(error)}`);
      return undefined;
    });
    void handle.closed.then(() => {
      control?.close();
      void dashboard?.close();
    });
    if (handle.httpUrl) logger.info(`Streamable HTTP: ${handle.httpUrl}`);
    const openDashboard = (): void => {
      const d = dashboardInfo();
      if (d) openInBrowser(d.token ? `${d.url}#token=${encodeURIComponent(d.token)}` : d.url, logger);
    };
    const tray = daemon.tray
      ? await showTray(() => [handle.status()], stop, logger, dashboardInfo() ? openDashboard : undefined)
      : undefined;
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

/** `mux serve --config`: the library's daemon, with signals, the status icon and the exit code around it. */
async function serveConfig(
  path: string,
  args: Record<string, unknown>,
  overrides: Partial<ServiceOptions>,
  daemon: DaemonOverrides,
  extraArgs: string[],
  level: string | undefined,
): Promise<void> {
  const log = createCliLogger(level ?? "info");
  const autoStarted = args["auto-started"] === true;
  // Started explicitly (by hand, by the login service): `mux stop`'s marker goes, so hosts may
  // start this daemon again after it ends.
  if (!autoStarted) (await import("./stop.ts")).clearStopMarker(path);
  else if (existsSync(daemonFiles(path).stopMarker))
    fail(`the daemon of ${path} was stopped with mux stop: not starting (start it with: mux serve --config ${path})`);
  const stop = onStop(log);
  // SIGHUP reloads; one that comes before the services are up has nothing newer to load.
  let reloadNow: (() => void) | undefined;
  process.on("SIGHUP", () => reloadNow?.());
  let handle: DaemonHandle;
  try {
    handle = await startDaemon(path, {
      only: args.service ? [String(args.service)] : list(args.only),
      except: list(args.except),
      overrides: { ...overrides, args: extraArgs.length > 0 ? extraArgs : undefined },
      daemon,
      autoStarted,
      logger: log,
      serviceLogger: (name, svc) => createCliLogger(level ?? svc.logLevel ?? "info", name),
      httpLogger: createCliLogger(level ?? "info", "http"),
      onIdle: (ms) => log.info(`no clients for ${ms} ms: exiting`),
    });
  } catch (error) {
    if (isMuxError(error) && error.code === "DAEMON_RUNNING" && autoStarted) {
      log.info(`another daemon already runs ${path}; this one is not needed`);
      process.exit(0);
    }
    fail(error instanceof Error ? error.message : String(error));
  }
  if (autoStarted)
    log.info(`auto-started (PATH=${process.env.PATH ?? ""}); exits after ${handle.idleExitMs} ms without clients`);
  for (const [name, s] of handle.services)
    log.info(`${name}: listening on ${s.socket}${handle.httpUrl ? ` and ${handle.httpUrl}/${name}` : ""}`);
  if (handle.dashboardUrl)
    log.info(`dashboard: ${handle.dashboardUrl} (the link with its token: mux dashboard --config ${path})`);
  reloadNow = () => {
    handle.reload().catch(() => {});
  };
  const tray = handle.tray
    ? await showTray(
        () => handle.status().services,
        stop,
        log,
        handle.dashboardUrl
          ? () => {
              const link = handle.dashboardLink();
              if (link) openInBrowser(link, log);
            }
          : undefined,
      )
    : undefined;
  stop.ready(async () => {
    await tray?.close();
    await handle.close();
  });
  await handle.closed;
  await tray?.close();
  process.exit(0);
}

/** A service name from a command: `npx -y @scope/server-memory` → `server-memory`. */
function defaultNameOf(cmd: string, args: string[]): string {
  const runners = new Set(["npx", "uvx", "bunx", "pnpx", "node", "bun", "python", "python3", "deno", "uv", "pipx"]);
  const base = (cmd.split("/").pop() ?? cmd).replace(/\.([cm]?[jt]s|exe)$/, "");
  const first = runners.has(base) ? args.find((a) => !a.startsWith("-") && a !== "run") : undefined;
  const name =
    (first ?? base)
      .split("/")
      .pop()
      ?.replace(/@[^@]*$/, "")
      .replace(/\.[cm]?[jt]s$/, "") ?? "mux";
  return name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40) || "mux";
}

/** The status icon, loaded only when asked for (a daemon without it pays nothing). */
async function showTray(
  status: () => import("../tray/menu.ts").TrayService[],
  stop: Stopper,
  logger: ReturnType<typeof createCliLogger>,
  onDashboard?: () => void,
): Promise<import("../tray/tray.ts").TrayHandle> {
  const { startTray } = await import("../tray/tray.ts");
  return startTray({ status, onQuit: () => stop.request("tray Quit"), onDashboard, logger });
}

/** Open a link with the desktop's opener (the tray's "Open dashboard"). */
function openInBrowser(link: string, logger: ReturnType<typeof createCliLogger>): void {
  const opener = process.platform === "darwin" ? "open" : "xdg-open";
  try {
    Bun.spawn([opener, link], { stdout: "ignore", stderr: "ignore" }).unref();
  } catch (error) {
    logger.warn(`tray: cannot run ${opener} to open the dashboard: ${String(error)}`);
  }
}

/** Shutting down once, by signal or by request (the tray's Quit). */
interface Stopper {
  ready(close: () => Promise<void>): void;
  request(reason: string): void;
}

/**
 * Handle stop signals from now on; `ready(close)` gives the way to stop once the daemon is
 * up (a signal that came earlier is acted on at that moment).
 */
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
