/**
 * The floor for a proxy written in Bun: stdin → Unix socket → stdout and nothing else (no
 * session, no reconnect, no framing). Compared with socat and mux-proxy in the benchmark.
 * Usage: bun scripts/bench/bun-bridge.ts SOCKET
 */
const out = Bun.stdout.writer();
const sock = await Bun.connect({
  unix: process.argv[2] as string,
  socket: {
    data(_s, chunk) {
      out.write(chunk);
      out.flush();
    },
    close() {
      process.exit(0);
    },
  },
});
for await (const chunk of Bun.stdin.stream()) sock.write(chunk);
sock.end();
