/**
 * `mux proxy`: the same bridge as the `mux-proxy` executable, as a `mux` subcommand.
 * @module
 */

import { defineCommand } from "citty";
import { proxyMain } from "./proxy-main.ts";

/** The `proxy` subcommand. */
export const proxyCommand = defineCommand({
  meta: { name: "proxy", description: "Bridge stdio to an mcp-mux socket (run it in place of the server command)" },
  args: {
    socket: { type: "string", description: "The mux socket path", required: true },
    env: { type: "string", description: "Forward this host-resolved variable to the daemon (comma-separated names)" },
    config: { type: "string", description: "Start `mux serve --config FILE` when nothing listens on the socket" },
    reconnect: { type: "boolean", default: true, description: "Keep the session when the daemon restarts" },
  },
  async run({ args }) {
    const names = (args.env ?? "").split(",").filter(Boolean);
    await proxyMain([
      "--socket",
      args.socket,
      ...names.flatMap((n) => ["--env", n]),
      ...(args.config ? ["--config", args.config] : []),
      ...(args.reconnect === false ? ["--no-reconnect"] : []),
    ]);
  },
});
