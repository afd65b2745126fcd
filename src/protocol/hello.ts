/**
 * The one mux-specific line on the wire: the hello a `mux-proxy --env NAME` sends first, with
 * the environment its host resolved. Kept in its own tiny module so `mux-proxy` stays small.
 * @module
 */

/**
 * First line a `mux-proxy --env NAME` sends: `{"method":"mcp-mux/hello","params":{"env":{…}}}`.
 * The daemon consumes it (never forwarded) and serves the client from a child with that env.
 */
export const HELLO_METHOD = "mcp-mux/hello";

/** Longest forwarded value (a token or a path is far shorter; the OS refuses much longer ones at spawn). */
export const MAX_HELLO_VALUE_BYTES = 32 * 1024;

/**
 * What a client's first line says, if it is a hello: the env to serve it with, or why the
 * client is refused (a value that is not a string, holds a NUL byte or is too long). Undefined
 * when the line is not a hello.
 */
export function readHello(line: string): { env: Record<string, string> } | { refusal: string } | undefined {
  if (!line.includes(HELLO_METHOD)) return undefined;
  let msg: { method?: unknown; id?: unknown; params?: { env?: unknown } };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch {
    return undefined;
  }
  if (typeof msg !== "object" || msg === null || msg.method !== HELLO_METHOD || msg.id !== undefined) return undefined;
  const env = msg.params?.env;
  if (typeof env !== "object" || env === null || Array.isArray(env)) return { env: {} };
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
  return { env: out };
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
