/**
 * `mux proxy` / `mux-proxy`: bridge stdio to a mux socket. stdout carries the protocol only.
 * @module
 */

import { defineCommand } from "citty";
import { isMuxError } from "../errors.ts";
import { runProxy } from "../proxy/proxy.ts";
import { fail } from "./logger.ts";

/** The `proxy` subcommand (also the whole `mux-proxy` executable). */
export const proxyCommand = defineCommand({
  meta: { name: "mux-proxy", description: "Bridge stdio to an mcp-mux socket (run it in place of the server command)" },
  args: {
    socket: { type: "string", description: "The mux socket path", required: true },
  },
  async run({ args }) {
    let result: Awaited<ReturnType<typeof runProxy>>;
    try {
      result = await runProxy({ socket: expandHome(args.socket) });
    } catch (error) {
      fail(isMuxError(error) ? error.message : String(error));
    }
    if (result.reason === "daemon-closed") {
      process.stderr.write(`mux-proxy: the mcp-mux daemon at ${args.socket} closed the connection\n`);
      process.exit(1);
    }
    process.exit(0);
  },
});

// --- internal ---

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? `${process.env.HOME ?? ""}${path.slice(1)}` : path;
}
