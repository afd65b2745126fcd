
import { connect, makeRouter, ready, session } from "/work/main/test/unit/fakes.ts";
import { parseMessage } from "/work/main/src/protocol/message.ts";
const META = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" } };
function run(modern: boolean, n: number): number {
  const { router, child } = makeRouter();
  ready(router, child);
  const c = modern ? connect(router) : session(router);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const params = modern ? { name: "echo", arguments: { i }, _meta: META } : { name: "echo", arguments: { i } };
    lines.push(JSON.stringify({ jsonrpc: "2.0", id: i + 1, method: "tools/call", params }));
  }
  (child as any).lines.length = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const line = lines[i]!;
    router.clientMessage(c.client, line, parseMessage(line));
    const sent = (child as any).lines.pop() as string;
    const id = Number(/"id":(\d+)/.exec(sent)![1]);
    router.childLine(`{"result":{"content":[{"type":"text","text":"{\\"i\\":${i}}"}]},"jsonrpc":"2.0","id":${id}}`);
    c.port.got.length = 0;
  }
  return ((performance.now() - t0) * 1000) / n;
}
{
  run(false, 20000); run(true,20000); const M = process.env.M === "1"; console.log(run(M, 200000));
}
