/**
 * Lines from a client: parse once (text, or bytes when big), refuse what cannot be routed
 * (parse errors, invalid messages, a refused client, shutdown), run the method's rule or the
 * default path, answers of the client's server→client requests, batches (answers collected
 * into one array) and oversized lines (answered by a guessed id).
 * @module
 */

import { type Message, parseMessage, parseMessageBytes, type WireLine } from "../../protocol/message.ts";
import { errorLine, RpcErrorCode } from "../../protocol/rpc-error.ts";
import { claimsModern } from "../../protocol/versions.ts";
import type { Asked, MuxClient } from "../client.ts";
import { modernRequest } from "../era2026/modern.ts";
import { legacyChildRequest } from "../era2026/modern-child.ts";
import { clientNotificationRules, clientRequestRules } from "../rules.ts";
import type { RoutingCore } from "./core.ts";
import type { Reply } from "./types.ts";
import { guessRawId, shuttingDown, wireText } from "./wire.ts";

/** One line from a client (text, or the bytes of a big one). */
export function clientLine(r: RoutingCore, client: MuxClient, line: string | Uint8Array): void {
  clientParsed(r, client, typeof line === "string" ? parseMessage(line) : parseMessageBytes(line), line);
}

/**
 * One message a transport already parsed (the HTTP front parses each body once): never parsed
 * again. The service's record takes it as parsed here; a request's answer carries back what the
 * record needs of it (method, id, arrival).
 */
export function clientParsed(r: RoutingCore, client: MuxClient, msg: Message, line: string | Uint8Array): void {
  const asked = client.tap !== undefined ? client.tap.received(msg, line) : undefined;
  if (msg.kind === "batch") return clientBatch(r, client, msg.items);
  clientMessage(r, client, msg, undefined, asked);
}

/**
 * One parsed message from a client; `reply` collects answers of a batch element; `asked` is
 * what the record keeps of the request, handed back with its answer.
 */
export function clientMessage(
  r: RoutingCore,
  client: MuxClient,
  msg: Message,
  reply: Reply | undefined,
  asked?: Asked,
): void {
  const answer = reply ?? ((line: WireLine) => client.send(line, "response", undefined, asked));
  switch (msg.kind) {
    case "parse-error":
      return answer(errorLine("null", RpcErrorCode.ParseError, `Parse error: ${msg.reason}`));
    case "invalid":
      return answer(errorLine(msg.rawId, RpcErrorCode.InvalidRequest, `Invalid Request: ${msg.reason}`));
    case "batch":
      return answer(errorLine("null", RpcErrorCode.InvalidRequest, "Invalid Request: a batch inside a batch"));
    case "request": {
      const out = reply ?? ((line: WireLine) => client.send(line, "response", msg.key, asked));
      if (client.refusal)
        return out(errorLine(msg.rawId, client.refusalCode ?? RpcErrorCode.EnvRefused, client.refusal));
      if (r.closing) return out(shuttingDown(msg.rawId));
      // The first request decides a connection's era (protocol-2026 §2.1): a client that opened a
      // legacy session stays legacy (its `_meta` passes through); any other request claiming a
      // modern version is served on its own envelope.
      if (!client.session && claimsModern(msg.params) && !msg.method.startsWith("mcp-mux/"))
        return modernRequest(r, client, msg, out);
      // A legacy client of a modern child: the mux speaks 2026-07-28 for it (protocol-2026 §3.4).
      if (r.childEra === "modern" && !LEGACY_RULES.has(msg.method) && !msg.method.startsWith("mcp-mux/")) {
        if (!client.initialized && !KNOWN_CLIENT_METHODS.has(msg.method) && msg.method !== "ping")
          return out(
            errorLine(
              msg.rawId,
              RpcErrorCode.MethodNotFound,
              `Method not found: ${msg.method} (send initialize first)`,
            ),
          );
        return legacyChildRequest(r, client, msg, out);
      }
      const rule = clientRequestRules[msg.method];
      if (rule) return rule(r, client, msg, out);
      if (!client.initialized && !KNOWN_CLIENT_METHODS.has(msg.method)) {
        const why = `Method not found: ${msg.method} (send initialize first)`;
        return out(errorLine(msg.rawId, RpcErrorCode.MethodNotFound, why));
      }
      return r.submit(client, msg, out);
    }
    case "notification": {
      if (client.refusal) return;
      const rule = clientNotificationRules[msg.method];
      if (rule) return rule(r, client, msg);
      if (client.initialized && r.state === "ready") r.host.writeChild(msg.bytes ? [msg.bytes] : msg.text);
      return;
    }
    case "response":
      if (!r.serverRequests.answered(client, msg))
        r.logger.debug(`client ${client.id}: dropped a response for an id it was never sent`);
  }
}

/** A client line over `max_request_bytes`: answer it if it was a request, drop it otherwise. */
export function clientOversized(
  r: RoutingCore,
  client: MuxClient,
  bytes: number,
  head: string,
  tail: string,
  limit: number,
): void {
  const rawId = guessRawId(head, tail);
  r.logger.warn(`client ${client.id}: dropped a ${bytes}-byte message (limit ${limit})`);
  if (rawId === undefined) return; // a notification (or unreadable): never answered
  const why = `Request too large: ${bytes} bytes exceeds the limit of ${limit} bytes`;
  client.send(errorLine(rawId, RpcErrorCode.MessageTooLarge, why, { limit, size: bytes }), "response");
}

// --- internal ---

/** Methods whose own rule serves a legacy client of a modern child too (initialize from the cached discover, levels, subscriptions). */
const LEGACY_RULES = new Set(["initialize", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"]);

/** Known MCP client→server methods (forwarded even before the client's initialize). */
const KNOWN_CLIENT_METHODS = new Set([
  "completion/complete",
  "prompts/list",
  "prompts/get",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "tools/list",
  "tools/call",
]);

/** A batch: each element routed on its own, the answers returned as one array. */
function clientBatch(r: RoutingCore, client: MuxClient, items: Message[]): void {
  if (items.length === 0) {
    client.send(errorLine("null", RpcErrorCode.InvalidRequest, "Invalid Request: empty batch"), "response");
    return;
  }
  const answers: string[] = [];
  let expected = 0;
  let sealed = false;
  const finish = (): void => {
    if (sealed && answers.length === expected && expected > 0) client.send(`[${answers.join(",")}]`, "response");
  };
  const collect: Reply = (line) => {
    answers.push(typeof line === "string" ? line : wireText(line));
    finish();
  };
  for (const item of items) {
    if (item.kind === "notification" || item.kind === "response") {
      clientMessage(r, client, item, undefined);
      continue;
    }
    expected++;
    if (item.kind === "request" && item.method === "initialize") {
      collect(errorLine(item.rawId, RpcErrorCode.InvalidRequest, "Invalid Request: initialize must not be batched"));
      continue;
    }
    clientMessage(r, client, item, collect);
  }
  sealed = true;
  finish();
}
