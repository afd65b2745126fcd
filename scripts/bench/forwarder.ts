/**
 * The "ideal forwarder" of the benchmark floor: what a mux must do at the very least, and
 * nothing more. One child for every connection; each line from a client is parsed, its id
 * replaced by a fresh one and re-serialized to the child; each line from the child is parsed,
 * its id mapped back, and re-serialized to its client. No validation, no notifications, no
 * limits, no restarts.
 * Usage: bun scripts/bench/forwarder.ts SOCKET -- CHILD_CMD...
 */
import type { Socket } from "bun";

const [socketPath, , ...childCmd] = process.argv.slice(2);
const child = Bun.spawn({ cmd: childCmd, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
const pending = new Map<number, { socket: Socket<unknown>; id: unknown }>();
let nextId = 1;

const split = (onLine: (l: string) => void) => {
  let buf = "";
  const dec = new TextDecoder();
  return (chunk: Uint8Array) => {
    buf += dec.decode(chunk, { stream: true });
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      if (nl > 0) onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf("\n");
    }
  };
};

void (async () => {
  const push = split((line) => {
    const msg = JSON.parse(line);
    const to = pending.get(msg.id);
    if (!to) return;
    pending.delete(msg.id);
    msg.id = to.id;
    to.socket.write(`${JSON.stringify(msg)}\n`);
  });
  for await (const chunk of child.stdout) push(chunk);
})();

Bun.listen<{ push: (c: Uint8Array) => void }>({
  unix: socketPath as string,
  socket: {
    open(socket) {
      socket.data = {
        push: split((line) => {
          const msg = JSON.parse(line);
          if (msg.id !== undefined) {
            const id = nextId++;
            pending.set(id, { socket: socket as Socket<unknown>, id: msg.id });
            msg.id = id;
          }
          child.stdin.write(`${JSON.stringify(msg)}\n`);
          child.stdin.flush();
        }),
      };
    },
    data(socket, chunk) {
      socket.data.push(chunk);
    },
  },
});
console.error("forwarder ready");
