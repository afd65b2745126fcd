/**
 * The trivial JSON-RPC child of the benchmarks: answers every request at once. `initialize`
 * gets an MCP result; `tools/call` echoes its arguments as text (or `big` returns N bytes);
 * anything else gets `{}`. One parse and one serialize per message.
 */
const out = Bun.stdout.writer();
const decoder = new TextDecoder();
let buffer = "";
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
for await (const chunk of Bun.stdin.stream()) {
  buffer += decoder.decode(chunk, { stream: true });
  let nl = buffer.indexOf("\n");
  while (nl >= 0) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    nl = buffer.indexOf("\n");
    if (!line) continue;
    const msg = JSON.parse(line);
    if (msg.id === undefined) continue;
    out.write(`${JSON.stringify({ jsonrpc: "2.0", id: msg.id, result: answer(msg) })}\n`);
  }
  out.flush();
}
