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
}

/** The env of a hello line, or undefined when `text` is not one. */
export function helloEnv(text: string): Record<string, string> | undefined {
  return parseHello(text)?.env;
}

/** The content of a hello line, or undefined when `text` is not one. */
export function parseHello(text: string): Hello | undefined {
  if (!text.includes(HELLO_METHOD)) return undefined;
  try {
    const msg = JSON.parse(text) as { method?: unknown; id?: unknown; params?: { env?: unknown; workspace?: unknown } };
    if (msg.method !== HELLO_METHOD || msg.id !== undefined) return undefined;
    return { env: strings(msg.params?.env), workspace: hint(msg.params?.workspace) };
  } catch {
    return undefined;
  }
}

// --- internal ---

function strings(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === "string")) as Record<string, string>;
}

function hint(value: unknown): WorkspaceHint | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const s = strings(value);
  const out: WorkspaceHint = {};
  if (s.cwd !== undefined) out.cwd = s.cwd;
  if (s.projectDir !== undefined) out.projectDir = s.projectDir;
  if (s.codexRoot !== undefined) out.codexRoot = s.codexRoot;
  return Object.keys(out).length > 0 ? out : undefined;
}
