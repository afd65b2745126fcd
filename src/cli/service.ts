/**
 * `mux service install|uninstall|status`: the login service that runs the daemon for a config
 * (systemd user unit on Linux, launchd agent on macOS).
 * @module
 */

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { defineCommand } from "citty";
import { connectRpc } from "../client/rpc.ts";
import { controlSocketPath } from "../config/paths.ts";
import { isMuxError } from "../errors.ts";
import { isObject } from "../protocol/message.ts";
import {
  defaultServiceConfig,
  installService,
  renderService,
  type ServiceReport,
  serviceStatus,
  uninstallService,
} from "../service/login.ts";
import { findInstalled } from "./installed.ts";
import { fail } from "./logger.ts";
import { alive } from "./stop.ts";

const COMMON = {
  config: { type: "string", description: "The config the daemon runs (default: the per-user one)" },
} as const;

/** The `service` command group. */
export const serviceCommand = defineCommand({
  meta: { name: "service", description: "Run the daemon at login (systemd user unit / launchd agent)" },
  subCommands: {
    install: defineCommand({
      meta: { name: "install", description: "Write and enable the login service" },
      args: {
        ...COMMON,
        print: { type: "boolean", description: "Print the service file and write nothing" },
        mux: { type: "string", description: "Absolute path of mux (default: this one, if installed)" },
      },
      async run({ args }) {
        const config = resolve(args.config ?? defaultServiceConfig());
        const file = orFail(() =>
          renderService({ mux: findInstalled("mux", args.mux), config, path: process.env.PATH }),
        );
        if (args.print) {
          process.stdout.write(`# ${file.path}\n${file.text}`);
          process.exit(0);
        }
        if (!existsSync(config)) fail(`no config at ${config} (mux scan --write-config ${config} writes one)`);
        await stopRunningDaemon(config);
        report(
          orFail(() => installService(file)),
          `installed ${file.path}`,
        );
      },
    }),
    uninstall: defineCommand({
      meta: { name: "uninstall", description: "Stop, disable and remove the login service (the config stays)" },
      args: COMMON,
      run({ args }) {
        const file = orFail(() =>
          renderService({ mux: "mux", config: resolve(args.config ?? defaultServiceConfig()) }),
        );
        if (!existsSync(file.path)) {
          process.stdout.write(`no login service at ${file.path}\n`);
          process.exit(0);
        }
        report(uninstallService(file), `removed ${file.path}`);
      },
    }),
    status: defineCommand({
      meta: {
        name: "status",
        description:
          "Is the login service installed and running? Exit 0 running, 1 not installed, 3 installed but not running, 4 the service manager cannot be reached",
      },
      args: COMMON,
      run({ args }) {
        const config = resolve(args.config ?? defaultServiceConfig());
        const file = orFail(() => renderService({ mux: "mux", config }));
        const r = serviceStatus(file);
        process.stdout.write(`${r.installed ? "installed" : "not installed"}: ${file.path}\n`);
        if (!r.installed) process.exit(1);
        const exec = /ExecStart=(.*)|<string>(\/[^<]*mux)<\/string>/.exec(readFileSync(file.path, "utf8"));
        if (exec) process.stdout.write(`runs: ${(exec[1] ?? exec[2] ?? "").trim()}\n`);
        const step = r.ran[0];
        const tool = file.kind === "systemd" ? "systemd (systemctl --user)" : "launchd (launchctl)";
        if (!step || unreachable(step)) {
          const said = step?.output.split("\n")[0]?.trim();
          process.stdout.write(
            `cannot tell whether it runs: ${tool} cannot be reached here${said ? ` (${said})` : ""}.\n` +
              `It starts at your next login where ${file.kind === "systemd" ? "a systemd user session" : "launchd"} runs; ` +
              `to run the daemon now: mux serve --config ${config}\n`,
          );
          process.exit(4);
        }
        if (step.output) process.stdout.write(`${step.output}\n`);
        const running = step.code === 0;
        process.stdout.write(running ? "running\n" : "not running\n");
        process.exit(running ? 0 : 3);
      },
    }),
  },
});

// --- internal ---

/** The service manager itself could not be reached (no systemd user session, no systemctl/launchctl). */
function unreachable(step: { code: number; output: string }): boolean {
  return (
    step.code === 127 ||
    /Failed to connect to bus|System has not been booted with systemd|Failed to get D-Bus connection|Could not find domain|\$DBUS_SESSION_BUS_ADDRESS|XDG_RUNTIME_DIR/i.test(
      step.output,
    )
  );
}

/** A library refusal (a path a service file cannot carry, an unsafe folder) as one error line. */
function orFail<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    return fail(isMuxError(error) ? error.message : String(error));
  }
}

function report(r: ServiceReport, done: string): never {
  process.stdout.write(`${done}\n`);
  for (const step of r.ran) if (step.code !== 0 && step.output) process.stdout.write(`  ${step.cmd}: ${step.output}\n`);
  if (r.todo.length > 0) {
    process.stdout.write(`${r.file.kind === "systemd" ? "systemd" : "launchd"} is not usable from here; run:\n`);
    for (const t of r.todo) process.stdout.write(`  ${t}\n`);
  } else if (r.installed) process.stdout.write(`enabled: ${r.file.name} starts at login and is running now\n`);
  process.exit(0);
}

/** A daemon already running this config (auto-started, or by hand) makes way for the service's. */
async function stopRunningDaemon(config: string): Promise<void> {
  let pid: number | undefined;
  try {
    const conn = await connectRpc(controlSocketPath(config), 1000);
    const answer = await conn.request("mcp-mux/status", undefined, 1000);
    conn.close();
    const status = isObject(answer.result) ? answer.result : undefined;
    pid = typeof status?.muxPid === "number" ? status.muxPid : undefined;
  } catch {
    return;
  }
  if (!pid || pid === process.pid) return;
  process.stdout.write(`stopping the daemon already running ${config} (pid ${pid}); its hosts reconnect\n`);
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const until = Date.now() + 5000;
  while (Date.now() < until && alive(pid)) await Bun.sleep(50);
}
