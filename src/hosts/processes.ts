/**
 * Running MCP server processes, for the wizard: exact argv from `/proc/<pid>/cmdline` on
 * Linux, `ps -eo pid=,args=` elsewhere (whitespace-split there, so quoted arguments blur).
 * @module
 */

import { readdirSync, readFileSync } from "node:fs";

/** One running process that looks like an MCP server. */
export interface RunningServer {
  pid: number;
  argv: string[];
}

const MARKERS = ["@modelcontextprotocol/", "mcp-server-", "-mcp-server", "mcp_server", "/mcp-", "-mcp/", "server-"];

/** Processes whose command line looks like an MCP server (muxes and proxies excluded). */
export function runningServers(): RunningServer[] {
  return listProcesses().filter(({ argv }) => {
    const line = argv.join(" ");
    if (/\bmux-proxy\b|rmcp-mux|rmcp_mux|\bmux (serve|proxy)\b/.test(line)) return false;
    return MARKERS.some((m) => line.includes(m)) && /mcp/i.test(line);
  });
}

/**
 * Does a running process run this launch? The launch's last non-flag argument (for `npx -y
 * pkg` the package) or its command must appear in the process's argv.
 */
export function runsLaunch(proc: RunningServer, command: string, args: string[]): boolean {
  const key = [...args].reverse().find((a) => !a.startsWith("-")) ?? command;
  const base = key.split("/").pop() ?? key;
  // npx runs the package's bin (`…/.bin/mcp-server-memory` for `@…/server-memory`).
  return proc.argv.some((a) => a.includes(key) || (base.length > 3 && (a.split("/").pop() ?? "").endsWith(base)));
}

function listProcesses(): RunningServer[] {
  try {
    const out: RunningServer[] = [];
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const raw = readFileSync(`/proc/${d}/cmdline`, "utf8");
        const argv = raw.split("\0").filter((a, i, all) => a !== "" || i < all.length - 1);
        if (argv.length > 0) out.push({ pid: Number(d), argv });
      } catch {
        // The process ended meanwhile.
      }
    }
    return out;
  } catch {
    const ps = Bun.spawnSync(["ps", "-eo", "pid=,args="], { stdout: "pipe", stderr: "ignore" });
    return new TextDecoder()
      .decode(ps.stdout)
      .split("\n")
      .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ pid: Number(m[1]), argv: (m[2] as string).split(/\s+/) }));
  }
}
