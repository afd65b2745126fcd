/**
 * The daemon's control socket (multi-service mode): answers `mcp-mux/status` with every
 * service's snapshot and `mcp-mux/reload` with the outcome of a config reload.
 * @module
 */

import { createLineSplitter } from "../protocol/framing.ts";
import { parseMessage } from "../protocol/message.ts";
import { errorLine, RpcErrorCode, resultLine } from "../protocol/rpc-error.ts";
import { type Listener, listenUnix } from "./listener.ts";

/** What the control socket can do. */
export interface ControlHandlers {
  status(): unknown;
  reload(): Promise<unknown>;
}

/** Listen on `path` for control requests. */
export async function startControl(path: string, handlers: ControlHandlers): Promise<Listener<undefined>> {
  return listenUnix<undefined>(path, {
    open(socket) {
      const splitter = createLineSplitter({
        line(text) {
          const msg = parseMessage(text);
          if (msg.kind !== "request") return;
          const answer = (line: string): void => {
            socket.write(`${line}\n`);
          };
          if (msg.method === "mcp-mux/status" || msg.method === "ping") {
            answer(resultLine(msg.rawId, msg.method === "ping" ? {} : handlers.status()));
          } else if (msg.method === "mcp-mux/reload") {
            handlers.reload().then(
              (r) => answer(resultLine(msg.rawId, r)),
              (e: unknown) =>
                answer(errorLine(msg.rawId, RpcErrorCode.InvalidParams, e instanceof Error ? e.message : String(e))),
            );
          } else answer(errorLine(msg.rawId, RpcErrorCode.MethodNotFound, `Method not found: ${msg.method}`));
        },
      });
      (socket as unknown as { splitter: typeof splitter }).splitter = splitter;
    },
    data(socket, chunk) {
      (socket as unknown as { splitter: { push(c: Uint8Array): void } }).splitter.push(chunk);
    },
  });
}
