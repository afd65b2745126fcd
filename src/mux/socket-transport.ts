/**
 * The Unix socket transport: binds the service's socket and makes each connection a
 * `SocketClient` that reaches the service only through its `ServiceDoor`.
 * @module
 */

import type { ServiceDoor } from "./door.ts";
import { type Listener, listenUnix } from "./listener.ts";
import { SocketClient } from "./socket-client.ts";

/** Listen on `path` for clients of the service behind `door`. */
export function listenSocket(path: string, door: ServiceDoor): Promise<Listener<SocketClient>> {
  return listenUnix<SocketClient>(path, {
    open: (socket) => {
      socket.data = new SocketClient({
        open: (port) => door.openClient(port, "socket"),
        socket,
        maxRequestBytes: door.options.maxRequestBytes,
        stallTimeoutMs: door.options.clientStallTimeoutMs,
        handlers: {
          line: (c, text) => door.clientLine(c, text),
          oversized: (c, info) => door.clientOversized(c, info),
          ended: (c) => door.clientEnded(c),
          closed: (c, reason) => door.closeClient(c, reason),
          busy: (c) => door.clientBusy(c),
        },
      });
    },
    data: (socket, chunk) => socket.data?.receive(chunk),
    drain: (socket) => socket.data?.drain(),
    end: (socket) => socket.data?.end(),
    close: (socket) => socket.data?.gone("disconnected"),
    error: (socket, error) => socket.data?.gone(`socket error: ${error.message}`),
  });
}
