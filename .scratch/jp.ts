import { parseMessage } from "../src/protocol/message.ts";
const META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" } };
const L = JSON.stringify({ jsonrpc: "2.0", id: 17, method: "tools/call", params: { name: "echo", arguments: { w: 1, i: 2 } } });
const M = JSON.stringify({ jsonrpc: "2.0", id: 17, method: "tools/call", params: { name: "echo", arguments: { w: 1, i: 2 }, _meta: META } });
for (const [n, f] of [["JSON.parse", JSON.parse], ["parseMessage", parseMessage]] as const)
  for (const [k, l] of [["legacy", L], ["modern", M]]) {
    for (let i = 0; i < 20000; i++) f(l);
    const t = performance.now(); for (let i = 0; i < 200000; i++) f(l + ""); console.log(n, k, ((performance.now() - t) * 5).toFixed(3), "µs");
  }
