/**
 * `mux dashboard`: the link to a running daemon's dashboard, with its token in the URL
 * fragment (the page keeps it for its requests; a fragment is never sent to a server), read
 * from the daemon's control socket. `--open` opens it in the browser.
 *
 * Exit codes: 0 printed (or opened), 1 no daemon is running, 2 bad usage or the daemon serves
 * no dashboard.
 * @module
 */

import { defineCommand } from "citty";
import { connectRpc } from "../client/rpc.ts";
import { findConfig } from "../config/load.ts";
import { controlSocketPath } from "../config/paths.ts";
import { isMuxError } from "../errors.ts";
import { controlPathOf } from "../mux/control.ts";
import { fail } from "./logger.ts";

/** The `dashboard` subcommand. */
export const dashboardCommand = defineCommand({
  meta: { name: "dashboard", description: "Print (or --open) the link to a running daemon's dashboard" },
  args: {
    config: { type: "string", description: "The daemon running this config (default: the per-user config)" },
    socket: { type: "string", description: "The single service listening on this socket (served with --http)" },
    open: { type: "boolean", description: "Open the link in the browser" },
  },
  async run({ args }) {
    if (args.socket && args.config) fail("give --socket or --config, not both", 2);
    let path: string;
    if (args.socket) path = controlPathOf(String(args.socket));
    else {
      const config = findConfig(args.config);
      if (!config) fail("give --config FILE (no per-user config found)", 2);
      path = controlSocketPath(config);
    }
    let answer: Record<string, unknown>;
    try {
      const rpc = await connectRpc(path);
      answer = await rpc.request("mcp-mux/dashboard", {});
      rpc.close();
    } catch (error) {
      fail(`no daemon is running (${isMuxError(error) ? error.message : String(error)})`, 1);
    }
    const error = answer.error as { message?: string } | undefined;
    if (error) fail(String(error.message ?? "the daemon serves no dashboard"), 2);
    const result = answer.result as { url?: unknown; token?: unknown };
    if (typeof result?.url !== "string") fail("the daemon sent no dashboard address", 2);
    const link =
      typeof result.token === "string" ? `${result.url}#token=${encodeURIComponent(result.token)}` : result.url;
    process.stdout.write(`${link}\n`);
    if (args.open) {
      const opener = process.platform === "darwin" ? "open" : "xdg-open";
      try {
        Bun.spawn([opener, link], { stdout: "ignore", stderr: "ignore" }).unref();
      } catch {
        process.stderr.write(`mux: cannot run ${opener}; open the link above in a browser\n`);
      }
    }
    process.exit(0);
  },
});
