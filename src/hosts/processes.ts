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
  /** The MCP host that started it (nearest ancestor that is one: `codex`, `claude`, `gemini`, …). */
  host?: string;
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
 * a host runs), and so are other users' processes (not ours to rewire). A launcher's own
 * children (`npm exec pkg` → `sh -c bin` → `node bin`) are one server: only the topmost is
 * listed, with the host that started it when there is one.
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
  const looksLikeServer = ({ argv }: Proc) => {
    const line = argv.join(" ");
    // `npm exec @modelcontextprotocol/server-memory` has no "mcp" in it, yet is the server.
    return line.includes("@modelcontextprotocol/") || (MARKERS.some((m) => line.includes(m)) && /mcp/i.test(line));
  };
  const candidates = procs.filter(
    (p) => (uid < 0 || p.uid === uid) && !underMux(p) && looksLikeServer(p) && hostProgram(p) === undefined,
  );
  const listed = new Set(candidates.map((p) => p.pid));
  /** The ancestors of `p`, nearest first (cycles and pid 0/1 end the walk). */
  const ancestors = (p: Proc): Proc[] => {
    const out: Proc[] = [];
    const seen = new Set([p.pid]);
    for (let q = byPid.get(p.ppid); q && q.pid > 1 && !seen.has(q.pid); q = byPid.get(q.ppid)) {
      out.push(q);
      seen.add(q.pid);
    }
    return out;
  };
  const out: RunningServer[] = [];
  for (const p of candidates) {
    const up = ancestors(p);
    if (up.some((q) => listed.has(q.pid))) continue;
    const host = up.map(hostProgram).find((h) => h !== undefined);
    out.push(host ? { pid: p.pid, argv: p.argv, host } : { pid: p.pid, argv: p.argv });
  }
  return out;
}

/**
 * Does a running process run this launch? The launch's last non-flag argument (for `npx -y
 * pkg` the package) or its command must appear in the process's argv.
 */
export function runsLaunch(proc: RunningServer, command: string, args: string[]): boolean {
  const key = [...args].reverse().find((a) => !a.startsWith("-")) ?? command;
  const base = key.split("/").pop() ?? key;
  // npx runs the package's bin (`…/.bin/mcp-server-memory` for `@…/server-memory`).
  // npm quotes the bin it runs (`sh -c 'mcp-server-memory'`); a version pin is the same server.
  const bare = (a: string) => a.replace(/^['"]|['"]$/g, "");
  const unpinned = base.replace(/(.)@[^/]*$/, "$1");
  return proc.argv.some(
    (a) =>
      a.includes(key) ||
      (unpinned.length > 3 && (bare(a).split("/").pop() ?? "").replace(/(.)@[^/]*$/, "$1").endsWith(unpinned)),
  );
}

// --- internal ---

/** A mux daemon or proxy (ours, run from a build or the sources, or rmcp-mux). */
const MUX_LINE = /\bmux-proxy\b|rmcp-mux|rmcp_mux|(^|\/)mux (serve|proxy)\b|src\/cli\/(main|proxy-main)\.ts/;
const MUX_EXE = /(^|\/)(mux-proxy|rmcp-mux)$/;

/** Executables of MCP hosts (first word of the file name, lower case: `Cursor Helper (Plugin)` is `cursor`). */
const HOST_PROGRAMS = new Set([
  "codex",
  "claude",
  "gemini",
  "cursor",
  "code",
  "code-insiders",
  "codium",
  "windsurf",
  "zed",
  "zed-editor",
  "goose",
  "opencode",
  "copilot",
  "junie",
  "cline",
]);
const RUNTIMES = new Set(["node", "nodejs", "bun", "deno"]);

/** The host a process is, by its executable (or the script a Node/Bun runtime runs). */
function hostProgram(p: RunningServer): string | undefined {
  const name = (path: string | undefined) =>
    (path?.split("/").pop() ?? "")
      .split(" ")[0]
      ?.toLowerCase()
      .replace(/\.(c|m)?js$/, "") ?? "";
  const exe = name(p.argv[0]);
  if (HOST_PROGRAMS.has(exe)) return exe;
  if (RUNTIMES.has(exe)) {
    const script = name(p.argv.slice(1).find((a) => !a.startsWith("-")));
    if (HOST_PROGRAMS.has(script)) return script;
  }
  return undefined;
}

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
