/**
 * The one mux-specific line on the wire: the hello a `mux-proxy` sends first, with the
 * environment its host resolved (`--env NAME`) and where the host started it (its workspace).
 * Kept in its own tiny module so `mux-proxy` stays small.
 * @module
 */

/**
 * First line a `mux-proxy` sends:
 * `{"method":"mcp-mux/hello","params":{"env":{…},"workspace":{"cwd":"…","projectDir":"…"}}}`.
 * The daemon consumes it (never forwarded): it serves the client from a child with that env,
 * and, for a `share = "workspace"` service, from that workspace's child.
 */
export const HELLO_METHOD = "mcp-mux/hello";

/** Longest forwarded value (a token or a path is far shorter; the OS refuses much longer ones at spawn). */
export const MAX_HELLO_VALUE_BYTES = 32 * 1024;

/** Where a client says it is: untrusted input, checked by the daemon before any use. */
export interface WorkspaceHint {
  /** The proxy's working directory (the folder its host started it in). */
  cwd?: string;
  /** `CLAUDE_PROJECT_DIR` of the proxy's environment. */
  projectDir?: string;
  /** `CODEX_WORKSPACE_ROOT` of the proxy's environment. */
  codexRoot?: string;
  /** A folder named outright (an HTTP entry's `?workspace=`). */
  explicit?: string;
}

/** What a hello line carries. */
export interface Hello {
  env: Record<string, string>;
  workspace: WorkspaceHint | undefined;
  /** The pid of the process that started the proxy (its host), for logs and status: untrusted. */
  hostPid?: number;
}

/**
 * What a client's first line says, if it is a hello: the env to serve it with and its
 * workspace hint, or why the client is refused (a value that is not a string, holds a NUL byte
 * or is too long). Undefined when the line is not a hello.
 */
export function readHello(line: string): Hello | { refusal: string } | undefined {
  if (!line.includes(HELLO_METHOD)) return undefined;
  let msg: { method?: unknown; id?: unknown; params?: { env?: unknown; workspace?: unknown; hostPid?: unknown } };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch {
    return undefined;
  }
  if (typeof msg !== "object" || msg === null || msg.method !== HELLO_METHOD || msg.id !== undefined) return undefined;
  const workspace = hint(msg.params?.workspace);
  const pid = (msg.params as { hostPid?: unknown } | undefined)?.hostPid;
  const hostPid = typeof pid === "number" && Number.isInteger(pid) && pid > 0 && pid < 2 ** 31 ? pid : undefined;
  const env = msg.params?.env;
  if (typeof env !== "object" || env === null || Array.isArray(env)) return { env: {}, workspace, hostPid };
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    const shown = JSON.stringify(name.slice(0, 64));
    if (typeof value !== "string") return { refusal: `forwarded variable ${shown} is not a string` };
    if (name.includes("\0") || value.includes("\0"))
      return { refusal: `forwarded variable ${shown} holds a NUL byte, which no environment can carry` };
    const bytes = Buffer.byteLength(value);
    if (bytes > MAX_HELLO_VALUE_BYTES)
      return {
        refusal: `forwarded variable ${shown} is too long (${bytes} bytes; at most ${MAX_HELLO_VALUE_BYTES})`,
      };
    out[name] = value;
  }
  return { env: out, workspace, hostPid };
}

/**
 * Why a first line too big to be read as text (`size` bytes, seen by its first and last bytes)
 * is refused when it is a hello; undefined when it is not one.
 */
export function bigHelloRefusal(head: string, tail: string, size: number): string | undefined {
  if (!HELLO_MEMBER.test(head) && !HELLO_MEMBER.test(tail)) return undefined;
  return `the ${HELLO_METHOD} line is too big (${size} bytes): forwarded values may have at most ${MAX_HELLO_VALUE_BYTES} bytes each`;
}

// --- internal ---

const HELLO_MEMBER = /"method"\s*:\s*"mcp-mux\/hello"/;

/** The workspace member of a hello: string fields only (the daemon checks the folders). */
function hint(value: unknown): WorkspaceHint | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const out: WorkspaceHint = {};
  if (typeof v.cwd === "string") out.cwd = v.cwd;
  if (typeof v.projectDir === "string") out.projectDir = v.projectDir;
  if (typeof v.codexRoot === "string") out.codexRoot = v.codexRoot;
  return Object.keys(out).length > 0 ? out : undefined;
}
