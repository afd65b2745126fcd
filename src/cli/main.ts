/**
 * The `mux` command tree. The only place (with the other `cli/` files) that reads argv,
 * installs signal handlers, or exits.
 * @module
 */

import { defineCommand, runMain, showUsage } from "citty";
import { VERSION_LINE } from "../version.ts";
import { unknownOption } from "./args-check.ts";
import { fail } from "./logger.ts";
import { restoreColorEnv } from "./tty.ts";

/** The root `mux` command with lazily loaded subcommands. */
export const main = defineCommand({
  meta: { name: "mux", version: VERSION_LINE, description: "Share one MCP server between many MCP clients" },
  subCommands: {
    serve: () => import("./serve.ts").then((m) => m.serveCommand),
    proxy: () => import("./proxy.ts").then((m) => m.proxyCommand),
    health: () => import("./health.ts").then((m) => m.healthCommand),
    status: () => import("./status.ts").then((m) => m.statusCommand),
    reload: () => import("./reload.ts").then((m) => m.reloadCommand),
    stop: () => import("./stop.ts").then((m) => m.stopCommand),
    scan: () => import("./hosts.ts").then((m) => m.scanCommand),
    rewire: () => import("./hosts.ts").then((m) => m.rewireCommand),
    restore: () => import("./hosts.ts").then((m) => m.restoreCommand),
    wizard: () => import("./wizard.ts").then((m) => m.wizardCommand),
    service: () => import("./service.ts").then((m) => m.serviceCommand),
    logs: () => import("./logs.ts").then((m) => m.logsCommand),
    dashboard: () => import("./dashboard.ts").then((m) => m.dashboardCommand),
  },
});

/** Run `mux` with the process's argv; an unknown option stops it with a "did you mean". */
export async function runMux(argv: string[] = process.argv.slice(2)): Promise<void> {
  restoreColorEnv();
  // No arguments: the help, as a successful answer (not citty's "No command specified").
  if (argv.length === 0) return showUsage(main);
  const unknown = await unknownOption(main, argv);
  if (unknown) fail(unknown, 2);
  return runMain(main, { rawArgs: argv });
}
