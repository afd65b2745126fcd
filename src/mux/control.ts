/**
 * The daemon's control socket (multi-service mode): answers `mcp-mux/status` with every
 * service's snapshot and `mcp-mux/reload` with the outcome of a config reload. The socket is
 * 0600 in a private folder (see listener.ts): only the owner's tools reach it. Still, what they
 * send is bounded: a line over 64 KiB is dropped (memory stays flat) and answered with an
 * error, and reloads run one at a time, in the order asked.
 * @module
 */

import { createLineSplitter } from "../protocol/framing.ts";
import { parseMessage } from "../protocol/message.ts";
import { errorLine, RpcErrorCode, resultLine } from "../protocol/rpc-error.ts";
import { type Listener, listenUnix } from "./listener.ts";

/** Longest control request line (they are a few dozen bytes). */
const MAX_CONTROL_LINE_BYTES = 64 * 1024;

/** What the control socket can do. */
export interface ControlHandlers {
  status(): unknown;
  reload(): Promise<unknown>;
}

/** Listen on `path` for control requests. */
export async function startControl(path: string, handlers: ControlHandlers): Promise<Listener<undefined>> {
  let reloads: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<unknown> => {
    const next = reloads.then(
      () => handlers.reload(),
      () => handlers.reload(),
    );
    reloads = next.catch(() => {});
    return next;
  };
  return listenUnix<undefined>(path, {
    open(socket) {
      const splitter = createLineSplitter(
        {
          line(text) {
            const msg = parseMessage(text);
            if (msg.kind !== "request") return;
            const answer = (line: string): void => {
              socket.write(`${line}\n`);
            };
            if (msg.method === "mcp-mux/status" || msg.method === "ping") {
              answer(resultLine(msg.rawId, msg.method === "ping" ? {} : handlers.status()));
            } else if (msg.method === "mcp-mux/reload") {
              reload().then(
                (r) => answer(resultLine(msg.rawId, r)),
                (e: unknown) =>
                  answer(errorLine(msg.rawId, RpcErrorCode.InvalidParams, e instanceof Error ? e.message : String(e))),
              );
            } else answer(errorLine(msg.rawId, RpcErrorCode.MethodNotFound, `Method not found: ${msg.method}`));
          },
          oversized(info) {
            socket.write(
              `${errorLine("null", RpcErrorCode.InvalidRequest, `Invalid Request: a control request of ${info.bytes} bytes (at most ${MAX_CONTROL_LINE_BYTES})`)}\n`,
            );
          },
        },
        { maxLineBytes: MAX_CONTROL_LINE_BYTES },
      );
      (socket as unknown as { splitter: typeof splitter }).splitter = splitter;
    },
    data(socket, chunk) {
      (socket as unknown as { splitter: { push(c: Uint8Array): void } }).splitter.push(chunk);
    },
  });
}
