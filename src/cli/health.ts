/**
 * `mux health`: ping one service (`--socket`) or the services of a config (`--config`,
 * optionally `--service NAME`); the exit code tells what is wrong (worst service wins).
 * @module
 */

import { defineCommand } from "citty";
import { findConfig, loadConfig } from "../config/load.ts";
import { checkHealth, HEALTH_EXIT_CODES, type HealthResult } from "../health/health.ts";
import { fail } from "./logger.ts";

/** The `health` subcommand. */
export const healthCommand = defineCommand({
  meta: {
    name: "health",
    description:
      "Ping the MCP server through the socket. Exit 0 healthy, 1 failed, 2 no socket, 3 refused, 4 timeout, 5 other, 6 still starting, 7 dormant (not woken unless --wake)",
  },
  args: {
    socket: { type: "string", description: "The mux socket path" },
    config: { type: "string", description: "Check the services of this config" },
    service: { type: "string", description: "With --config: check only this service" },
    json: { type: "boolean", description: "Print the result as JSON" },
    wake: { type: "boolean", description: "Ping a dormant service too (this wakes its server)" },
    "timeout-ms": { type: "string", description: "Deadline (default 3000)" },
  },
  async run({ args }) {
    const timeoutMs = args["timeout-ms"] === undefined ? undefined : Number(args["timeout-ms"]);
    if (timeoutMs !== undefined && !(timeoutMs > 0))
      fail("--timeout-ms must be a positive number", HEALTH_EXIT_CODES.error);
    const sockets: [string | undefined, string][] = [];
    if (args.socket) sockets.push([undefined, args.socket]);
    else {
      const path = findConfig(args.config);
      if (!path) fail("give --socket PATH or --config FILE (no per-user config found)", HEALTH_EXIT_CODES.error);
      let config: ReturnType<typeof loadConfig>;
      try {
        config = loadConfig(path);
      } catch (error) {
        fail(error instanceof Error ? error.message : String(error), HEALTH_EXIT_CODES.error);
      }
      for (const [name, svc] of Object.entries(config.services)) {
        if (!args.service || args.service === name) sockets.push([name, svc.socket]);
      }
      if (sockets.length === 0) fail(`no service "${args.service}" in ${path}`, HEALTH_EXIT_CODES.error);
    }
    const results: (HealthResult & { service?: string })[] = await Promise.all(
      sockets.map(async ([service, socket]) => ({
        ...(await checkHealth({ socket, timeoutMs, wake: args.wake === true })),
        service,
      })),
    );
    if (args.json) process.stdout.write(`${JSON.stringify(args.socket ? results[0] : results, null, 2)}\n`);
    else {
      for (const r of results) {
        const name = r.service ? `${r.service} ` : "";
        const word = r.state === "dormant" ? "DORMANT" : r.ok ? "OK" : "UNHEALTHY";
        process.stdout.write(`${word} ${name}${r.socket}: ${r.message}\n`);
      }
    }
    // The worst wins; dormant (7) only when nothing is worse than healthy.
    const codes = results.map((r) => HEALTH_EXIT_CODES[r.state]);
    const bad = codes.filter((c) => c !== HEALTH_EXIT_CODES.dormant && c !== HEALTH_EXIT_CODES.healthy);
    process.exit(bad.length > 0 ? Math.max(...bad) : Math.max(...codes));
  },
});
