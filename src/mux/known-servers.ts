/**
 * What is known of popular MCP servers, with the evidence: which need no workspace (one process
 * can serve every project: `rewire` writes `share = "global"` for them) and which keep nothing
 * in memory between requests (a service of one is dormant after 10 idle minutes unless its
 * `dormant_after_ms` says otherwise). Keep in step with the README tables ("Share policy",
 * "Dormant servers"). A launch is hostile input: the matchers are anchored path segments.
 * @module
 */

/** A server known not to depend on the folder it runs in (see README "Share policy"). */
export interface KnownServer {
  /** The name shown in reasons. */
  name: string;
  /** Matches a command or argument naming the server's package, binary or image. */
  match: RegExp;
  /** Why one process can serve every project. */
  why: string;
  /** Where that was read. */
  evidence: string;
  /** What it keeps in memory between requests (it must stay up); absent: nothing, it may sleep. */
  keepsInMemory?: string;
  /** An argument that makes it keep state in memory after all (e.g. a mode flag). */
  keepsInMemoryWith?: RegExp;
  /**
   * It keeps its state in a file of its own: run in a container with no volume, that file goes
   * with the container (`docker run --rm mcp/memory`), so stopping it would lose the state.
   */
  stateInFile?: boolean;
}

/** The idle time after which a server known to keep nothing in memory goes dormant by default. */
export const AUTO_DORMANT_MS = 600_000;

/**
 * Servers one process can serve for every project: none reads its working directory or the
 * client's roots.
 */
export const KNOWN_SERVERS: readonly KnownServer[] = [
  {
    name: "server-memory",
    match: segment("(@modelcontextprotocol/)?(mcp-)?server-memory|mcp/memory"),
    why: "server-memory keeps one graph",
    evidence:
      "modelcontextprotocol/servers src/memory/index.ts: the default memory.jsonl sits beside the package and a relative MEMORY_FILE_PATH resolves against the package folder, never the cwd; every tool reads the graph from the file and writes it back (loadGraph/saveGraph)",
    stateInFile: true,
  },
  {
    name: "sequential-thinking",
    match: segment("(@modelcontextprotocol/)?server-sequential-thinking|mcp/sequentialthinking"),
    why: "sequential-thinking keeps its history in memory",
    evidence: "modelcontextprotocol/servers src/sequentialthinking/lib.ts: no file or roots access",
    keepsInMemory: "its thought history and branches live in the process",
  },
  {
    name: "time",
    match: segment("mcp-server-time|mcp/time"),
    why: "time reads the clock only",
    evidence: "modelcontextprotocol/servers src/time/src/mcp_server_time/server.py: no file or roots access",
  },
  {
    name: "fetch",
    match: segment("mcp-server-fetch|mcp/fetch"),
    why: "fetch reads URLs only",
    evidence: "modelcontextprotocol/servers src/fetch/src/mcp_server_fetch/server.py: no file or roots access",
  },
  {
    name: "context7",
    match: segment("(@upstash/)?context7-mcp"),
    why: "context7 looks documentation up remotely",
    evidence: "upstash/context7: a remote API client with no local state",
  },
  {
    name: "server-everything",
    match: segment("(@modelcontextprotocol/)?server-everything|mcp/everything"),
    why: "server-everything is a test server that reads only its own package",
    evidence:
      "@modelcontextprotocol/server-everything dist/resources/files.js reads its package's docs folder; no process.cwd",
    keepsInMemory: "its subscriptions, simulated log and toggles live in the process",
  },
  {
    name: "github",
    match: segment("github-mcp-server|(@modelcontextprotocol/)?server-github"),
    why: "github talks to the GitHub API with one token",
    evidence: "github/github-mcp-server: a remote API client; one child per distinct token (forwarded env)",
    keepsInMemoryWith: /^--dynamic-toolsets(=|$)/,
  },
];

/** The known server a command or argument names, if any. */
export function knownServer(tokens: readonly string[]): KnownServer | undefined {
  // A URL names a remote endpoint (`mcp-remote https://host/mcp/fetch`), never the package that runs.
  const named = tokens.filter((t) => !URL_LIKE.test(t));
  return KNOWN_SERVERS.find((k) => named.some((t) => k.match.test(t)));
}

/**
 * The default `dormant_after_ms` of a launch: {@link AUTO_DORMANT_MS} for a known server that
 * keeps nothing in memory between requests (with no argument that makes it keep some), else 0.
 */
export function autoDormancy(tokens: readonly string[]): { ms: number; reason: string } {
  const known = knownServer(tokens);
  if (!known) return { ms: 0, reason: "unknown server: it may keep state in memory" };
  if (known.keepsInMemory) return { ms: 0, reason: `${known.name}: ${known.keepsInMemory}` };
  const flag = known.keepsInMemoryWith;
  const arg = flag ? tokens.find((t) => flag.test(t)) : undefined;
  if (arg !== undefined) return { ms: 0, reason: `${known.name} with ${arg.slice(0, 40)} keeps state in memory` };
  if (known.stateInFile && inContainerWithoutVolume(tokens))
    return { ms: 0, reason: `${known.name} in a container with no volume: its file goes with the container` };
  return { ms: AUTO_DORMANT_MS, reason: `${known.name} keeps nothing in memory between requests` };
}

// --- internal ---

/** `docker|podman|nerdctl run …` with no `-v`/`--volume`/`--mount`: the container's files are its own. */
function inContainerWithoutVolume(tokens: readonly string[]): boolean {
  // The tool wherever it stands: `env X=1 docker run …`, `sudo -E docker run …` are containers too.
  const at = tokens.findIndex((t) => CONTAINER_TOOLS.has(t.split(/[/\\]/).pop() ?? ""));
  if (at < 0) return false;
  const rest = tokens.slice(at + 1);
  if (!rest.includes("run")) return false;
  return !rest.some((t) => /^(-v|--volume|--mount)(=|$)/.test(t) || /^-v./.test(t));
}

const CONTAINER_TOOLS = new Set(["docker", "podman", "nerdctl"]);

/** `scheme://…`: a URL argument. */
const URL_LIKE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** A whole path segment (of a command, a package spec with a version, or an image with a tag). */
function segment(names: string): RegExp {
  return new RegExp(`(^|[/\\\\])(${names})(@[^/\\s]*|==[^/\\s]*|:[^/\\s]*)?([/\\\\]|$)`);
}
