/**
 * `mux reload --config FILE`: validate the config, then ask the daemon running it to apply it.
 * @module
 */

import { defineCommand } from "citty";
import { connectRpc } from "../client/rpc.ts";
import { findConfig, loadConfig } from "../config/load.ts";
import { controlSocketPath } from "../config/paths.ts";
import { isObject } from "../protocol/message.ts";
import { fail } from "./logger.ts";

/** The `reload` subcommand. */
export const reloadCommand = defineCommand({
  meta: { name: "reload", description: "Re-read a config in the running daemon (like SIGHUP)" },
  args: { config: { type: "string", description: "The config file the daemon runs (default: per-user config)" } },
  async run({ args }) {
    const path = findConfig(args.config);
    if (!path) fail("no config file given and none found in the per-user config directory");
    try {
      loadConfig(path);
    } catch (error) {
      fail(`${error instanceof Error ? error.message : String(error)}\nnothing was reloaded`);
    }
    let conn: Awaited<ReturnType<typeof connectRpc>>;
    try {
      conn = await connectRpc(controlSocketPath(path));
    } catch {
      fail(`no mux daemon is running ${path} (start it with: mux serve --config ${path})`, 2);
    }
    const answer = await conn.request("mcp-mux/reload", undefined, 60_000);
    conn.close();
    if (!isObject(answer.result)) fail(`reload failed: ${JSON.stringify(answer.error)}`);
    const r = answer.result as Record<string, unknown>;
    for (const key of ["added", "removed", "restarted", "unchanged"]) {
      const names = r[key] as string[];
      if (names.length > 0) process.stdout.write(`${key}: ${names.join(", ")}\n`);
    }
    // The daemon's own environment decides what its variables expand to: its warnings, not ours.
    for (const w of (r.warnings ?? []) as string[]) process.stderr.write(`warning: ${w}\n`);
    const applied = (r.applied ?? []) as string[];
    if (applied.length > 0) process.stdout.write(`applied: ${applied.join(", ")}\n`);
    const failed = Object.entries((r.failed ?? {}) as Record<string, string>);
    for (const [name, why] of failed) process.stdout.write(`failed: ${name}: ${why}\n`);
    const restart = Object.entries((r.needsRestart ?? {}) as Record<string, string>);
    for (const [name, why] of restart) process.stdout.write(`needs a restart: ${name}: ${why}\n`);
    process.exit(failed.length > 0 ? 1 : restart.length > 0 ? 3 : 0);
  },
});

/**
 * Ask the daemon running `path`, if one runs, to reload it. Returns what changed, or
 * undefined when no daemon answers on the config's control socket.
 */
export async function reloadIfRunning(path: string): Promise<Record<string, unknown> | undefined> {
  let conn: Awaited<ReturnType<typeof connectRpc>>;
  try {
    conn = await connectRpc(controlSocketPath(path), 1000);
  } catch {
    return undefined;
  }
  try {
    const answer = await conn.request("mcp-mux/reload", undefined, 60_000);
    return isObject(answer.result) ? (answer.result as Record<string, unknown>) : { error: answer.error };
  } finally {
    conn.close();
  }
}
