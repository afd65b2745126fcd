/**
 * Running MCP server processes, for the wizard: exact argv, parent and owner from `/proc` on
 * Linux, `ps -eo pid=,ppid=,uid=,args=` elsewhere (whitespace-split there, so quoted
 * arguments blur).
 * @module
 */

import { readdirSync, readFileSync } from "node:fs";

/** One running process that looks like an MCP server. */
export interface RunningServer {
  pid: number;
  argv: string[];
}

/** A process as listed: its parent and owner too. */
interface Proc extends RunningServer {
  ppid: number;
  uid: number;
}

const MARKERS = ["@modelcontextprotocol/", "mcp-server-", "-mcp-server", "mcp_server", "/mcp-", "-mcp/", "server-"];

/**
 * This user's processes whose command line looks like an MCP server. Muxes and proxies are
 * left out with everything they started (a mux's children are already shared, not copies
 * a host runs), and so are other users' processes (not ours to rewire).
 */
export function runningServers(options: { uid?: number } = {}): RunningServer[] {
  const uid = options.uid ?? process.getuid?.() ?? -1;
  const procs = listProcesses();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const isMux = (p: Proc) => MUX_LINE.test(p.argv.join(" ")) || MUX_EXE.test(p.argv[0] ?? "");
  const underMux = (p: Proc): boolean => {
    const seen = new Set<number>();
    for (let q: Proc | undefined = p; q && !seen.has(q.pid); q = byPid.get(q.ppid)) {
      if (isMux(q)) return true;
      seen.add(q.pid);
    }
    return false;
  };
  return procs
    .filter((p) => (uid < 0 || p.uid === uid) && !underMux(p))
    .filter(({ argv }) => {
      const line = argv.join(" ");
      return MARKERS.some((m) => line.includes(m)) && /mcp/i.test(line);
    })
    .map(({ pid, argv }) => ({ pid, argv }));
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

// --- internal ---

/** A mux daemon or proxy (ours, run from a build or the sources, or rmcp-mux). */
const MUX_LINE = /\bmux-proxy\b|rmcp-mux|rmcp_mux|(^|\/)mux (serve|proxy)\b|src\/cli\/(main|proxy-main)\.ts/;
const MUX_EXE = /(^|\/)(mux-proxy|rmcp-mux)$/;

function listProcesses(): Proc[] {
  try {
    const out: Proc[] = [];
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const raw = readFileSync(`/proc/${d}/cmdline`, "utf8");
        const argv = raw.split("\0").filter((a, i, all) => a !== "" || i < all.length - 1);
        const status = readFileSync(`/proc/${d}/status`, "utf8");
        const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
        const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
        if (argv.length > 0) out.push({ pid: Number(d), ppid, uid, argv });
      } catch {
        // The process ended meanwhile.
      }
    }
    return out;
  } catch {
    const ps = Bun.spawnSync(["ps", "-eo", "pid=,ppid=,uid=,args="], { stdout: "pipe", stderr: "ignore" });
    return new TextDecoder()
      .decode(ps.stdout)
      .split("\n")
      .map((l) => /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), uid: Number(m[3]), argv: (m[4] as string).split(/\s+/) }));
  }
}
