/**
 * The `mux-proxy` executable's entry: a dependency-free argv parse (no citty, no consola) so
 * an idle proxy stays small; `mux proxy` reuses `proxyMain`.
 * @module
 */

import { isMuxError } from "../errors.ts";
import { runProxy } from "../proxy/proxy.ts";
import { VERSION_LINE } from "../version.ts";

const USAGE =
  "usage: mux-proxy --socket PATH [--env NAME]...\n\nBridge stdio to an mcp-mux socket; run it in place of the MCP server command.\n" +
  "--env NAME passes this variable (set by the host, e.g. a secret) to the daemon, which runs\n" +
  "clients with the same values on one server process.\n";

/** Run the proxy with `argv` (the arguments after the program name); exits the process. */
export async function proxyMain(argv: string[]): Promise<never> {
  let socket: string | undefined;
  const forward: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--socket") socket = argv[++i];
    else if (a.startsWith("--socket=")) socket = a.slice("--socket=".length);
    else if (a === "--env") forward.push(argv[++i] ?? "");
    else if (a.startsWith("--env=")) forward.push(a.slice("--env=".length));
    else if (a === "--help" || a === "-h") {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (a === "--version") {
      process.stdout.write(`mux-proxy ${VERSION_LINE}\n`);
      process.exit(0);
    } else return die(`unknown argument ${a}\n${USAGE}`);
  }
  if (!socket) return die(`--socket is required\n${USAGE}`);
  const path = socket === "~" || socket.startsWith("~/") ? `${process.env.HOME ?? ""}${socket.slice(1)}` : socket;
  let result: Awaited<ReturnType<typeof runProxy>>;
  try {
    const env: Record<string, string> = {};
    for (const name of forward) if (name && process.env[name] !== undefined) env[name] = process.env[name] as string;
    result = await runProxy({ socket: path, env });
  } catch (error) {
    return die(isMuxError(error) ? error.message : String(error));
  }
  if (result.reason === "daemon-closed") return die(`the mcp-mux daemon at ${path} closed the connection`);
  process.exit(0);
}

// --- internal ---

function die(message: string): never {
  process.stderr.write(`mux-proxy: ${message.trimEnd()}\n`);
  process.exit(1);
}
