/**
 * The "ideal forwarder" of the benchmark floor: one Unix socket hop that parses and
 * re-serializes each line in both directions and does nothing else (no id rewriting, one
 * client at a time, one echo child per connection).
 * Usage: bun scripts/bench/forwarder.ts SOCKET -- CHILD_CMD...
 */
const [socketPath, , ...childCmd] = process.argv.slice(2);
const encoder = new TextEncoder();
const split = (onLine: (l: string) => void) => {
  let buf = "";
  const dec = new TextDecoder();
  return (chunk: Uint8Array) => {
    buf += dec.decode(chunk, { stream: true });
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
    }
  };
};
Bun.listen<{ child: ReturnType<typeof Bun.spawn> }>({
  unix: socketPath as string,
  socket: {
    open(socket) {
      const child = Bun.spawn({ cmd: childCmd, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
      socket.data = { child };
      void (async () => {
        const push = split((line) => {
          socket.write(encoder.encode(`${JSON.stringify(JSON.parse(line))}\n`));
        });
        for await (const chunk of child.stdout as ReadableStream<Uint8Array>) push(chunk);
      })();
      (socket as unknown as { push: (c: Uint8Array) => void }).push = split((line) => {
        const sink = child.stdin as import("bun").FileSink;
        sink.write(`${JSON.stringify(JSON.parse(line))}\n`);
        sink.flush();
      });
    },
    data(socket, chunk) {
      (socket as unknown as { push: (c: Uint8Array) => void }).push(chunk);
    },
    close(socket) {
      socket.data.child.kill();
    },
  },
});
console.error("forwarder ready");
