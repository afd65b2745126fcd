/**
 * `mux health`: ping a service through its socket; the exit code tells what is wrong.
 * @module
 */

import { defineCommand } from "citty";
import { checkHealth, HEALTH_EXIT_CODES } from "../health/health.ts";
import { fail } from "./logger.ts";

/** The `health` subcommand. */
export const healthCommand = defineCommand({
  meta: {
    name: "health",
    description:
      "Send an MCP ping through the socket. Exit 0 healthy, 1 failed, 2 no socket, 3 refused, 4 timeout, 5 other",
  },
  args: {
    socket: { type: "string", description: "The mux socket path" },
    json: { type: "boolean", description: "Print the result as JSON" },
    "timeout-ms": { type: "string", description: "Deadline (default 3000)" },
  },
  async run({ args }) {
    if (!args.socket) fail("--socket is required", HEALTH_EXIT_CODES.error);
    const timeoutMs = args["timeout-ms"] === undefined ? undefined : Number(args["timeout-ms"]);
    if (timeoutMs !== undefined && !(timeoutMs > 0))
      fail("--timeout-ms must be a positive number", HEALTH_EXIT_CODES.error);
    const result = await checkHealth({ socket: args.socket, timeoutMs });
    if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else process.stdout.write(`${result.ok ? "OK" : "UNHEALTHY"} ${result.socket}: ${result.message}\n`);
    process.exit(HEALTH_EXIT_CODES[result.state]);
  },
});
