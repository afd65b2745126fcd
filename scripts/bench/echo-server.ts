/**
 * The trivial JSON-RPC child of the benchmarks: answers every request at once. `initialize`
 * gets an MCP result; `tools/call` echoes its arguments as text (or `big` returns N bytes);
 * anything else gets `{}`. One parse and one serialize per message.
 */
const out = Bun.stdout.writer();
const decoder = new TextDecoder();
const answer = (msg: {
  id?: unknown;
  method?: string;
  params?: { name?: string; arguments?: Record<string, unknown> };
}): unknown => {
  if (msg.method === "initialize") {
    return {
      protocolVersion: "2025-11-25",
      capabilities: { tools: {} },
      serverInfo: { name: "echo", version: "1.0.0" },
    };
  }
  if (msg.method === "tools/list") return { tools: [{ name: "echo", inputSchema: { type: "object" } }] };
  if (msg.method === "tools/call") {
    const args = msg.params?.arguments ?? {};
    const text = msg.params?.name === "big" ? "x".repeat(Number(args.bytes ?? 0)) : JSON.stringify(args);
    return { content: [{ type: "text", text }] };
  }
  return {};
};
// Lines are split on bytes, searching only each new chunk, so a huge line costs linear time.
let parts: Uint8Array[] = [];
for await (const chunk of Bun.stdin.stream()) {
  let start = 0;
  for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
    parts.push(chunk.subarray(start, nl));
    start = nl + 1;
    const line = parts.length === 1 ? decoder.decode(parts[0]) : decoder.decode(Buffer.concat(parts));
    parts = [];
    if (!line) continue;
    const msg = JSON.parse(line);
    if (msg.id === undefined) continue;
    out.write(`${JSON.stringify({ jsonrpc: "2.0", id: msg.id, result: answer(msg) })}\n`);
  }
  if (start < chunk.length) parts.push(chunk.slice(start));
  out.flush();
}
