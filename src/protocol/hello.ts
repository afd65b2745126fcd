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

/** The env of a hello line, or undefined when `text` is not one. */
export function helloEnv(text: string): Record<string, string> | undefined {
  if (!text.includes(HELLO_METHOD)) return undefined;
  try {
    const msg = JSON.parse(text) as { method?: unknown; id?: unknown; params?: { env?: unknown } };
    if (msg.method !== HELLO_METHOD || msg.id !== undefined) return undefined;
    const env = msg.params?.env;
    if (typeof env !== "object" || env === null || Array.isArray(env)) return {};
    return Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === "string")) as Record<string, string>;
  } catch {
    return undefined;
  }
}
