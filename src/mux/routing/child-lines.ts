/**
 * The child's stdout lines: the fast path (an SDK-layout response spliced without a parse),
 * the byte path (a big plain response handed back as views of its bytes), requests and
 * notifications by rule, listen notifications to their owner, batches, and what an answer
 * teaches the core (a task's owner, URL elicitations' owner).
 * @module
 */

import { decodeSpan, scanJsonBytes } from "../../protocol/json-bytes.ts";
import { type JsonObject, parseMessage } from "../../protocol/message.ts";
import { errorLine, RpcErrorCode } from "../../protocol/rpc-error.ts";
import { fastIdSpan, type Span, scanObject, spanAt, splice } from "../../protocol/scan.ts";
import type { MuxClient } from "../client.ts";
import { childNotificationRules, childRequestRules } from "../rules.ts";
import type { RoutingCore } from "./core.ts";
import { spliceBytes, syntheticError } from "./wire.ts";

/** One line from the child's stdout. */
export function childLine(r: RoutingCore, text: string): void {
  // Fast path: a response in an SDK layout needs no scan and no parse at all.
  const fastId = fastIdSpan(text);
  if (
    fastId &&
    (text.startsWith('{"result":') ||
      text.startsWith('{"error":') ||
      RESPONSE_AFTER_HEAD.test(text.slice(fastId[1], fastId[1] + 11)))
  ) {
    return childResponse(r, text, fastId, text.startsWith('{"error":') || text.startsWith(',"error":', fastId[1]));
  }
  const msg = parseMessage(text);
  switch (msg.kind) {
    case "request": {
      const rule = childRequestRules[msg.method];
      if (rule) return rule(r, msg);
      r.host.writeChild(errorLine(msg.rawId, RpcErrorCode.MethodNotFound, `Method not found: ${msg.method}`));
      return;
    }
    case "notification": {
      if (r.pending.listening && routeListenNotification(r, msg.text, msg.params)) return;
      const rule = childNotificationRules[msg.method];
      if (rule) return rule(r, msg);
      return r.broadcast(msg.text);
    }
    case "response":
      if (msg.idSpan) return childResponse(r, text, msg.idSpan, msg.error !== undefined);
      if (msg.error) r.logger.warn(`server reported an error: ${text.slice(0, 300)}`);
      return;
    case "batch":
      for (const item of msg.items) if ("text" in item) childLine(r, item.text);
      return;
    default:
      r.logger.warn(`server wrote a non-JSON-RPC line to stdout (ignored): ${text.slice(0, 200)}`);
  }
}

/**
 * One big line from the child, as bytes: a plain response goes back to its client as views
 * of these bytes with the client's id spliced in (never decoded, never copied); anything
 * else takes the text path.
 */
export function childBytes(r: RoutingCore, bytes: Uint8Array): void {
  const scan = scanJsonBytes(bytes);
  if (!scan) {
    r.logger.warn(`server wrote a ${bytes.length}-byte line that is not JSON (ignored)`);
    return;
  }
  const members = new Map(scan.top.map((m) => [m.key, m.value]));
  const idSpan = members.get("id");
  const resultSpan = members.get("result");
  const p =
    idSpan && resultSpan && !members.has("method") ? r.pending.get(Number(decodeSpan(bytes, idSpan))) : undefined;
  const taskLike = resultSpan && scan.nested.get(resultSpan[0])?.some((m) => m.key === "task");
  if (!p?.client || p.onResponse || taskLike || members.size !== scan.top.length) {
    childLine(r, textDecoder.decode(bytes));
    return;
  }
  r.pending.remove(p);
  r.progress.release(p.progressToken);
  const owner = p.client;
  owner.inflight.delete(p.key);
  p.reply(spliceBytes(bytes, [[idSpan as Span, p.rawId]]));
  r.released(owner, p.counted);
  r.settled(owner);
  r.host.changed();
}

// --- internal ---

/** After `{"jsonrpc":"2.0","id":N`: a response continues with `,"result":` or `,"error":`. */
const RESPONSE_AFTER_HEAD = /^,"(result|error)":/;

/** The `_meta` key naming the listen request a 2026-07-28 notification belongs to. */
const SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId";

/** The code's text as it appears in an error line (a quick test before the error is parsed). */
const URL_ELICITATION_CODE = String(RpcErrorCode.UrlElicitationRequired);

const textDecoder = new TextDecoder();

const INVALID_ANSWER = "Internal error: the server's answer is not a valid JSON-RPC response";

/** A response from the child: give it back to its client with the client's own id. */
function childResponse(r: RoutingCore, text: string, idSpan: Span, isError: boolean): void {
  const idText = text.slice(idSpan[0], idSpan[1]);
  const muxId = Number(idText);
  const p = Number.isInteger(muxId) ? r.pending.take(muxId) : undefined;
  if (!p) {
    if (idText === "null" && isError) r.logger.warn(`server reported an error: ${text.slice(0, 300)}`);
    else r.logger.debug(`dropped a server response for unknown id ${idText.slice(0, 40)}`);
    return;
  }
  const client = p.client;
  if (p.onResponse) {
    r.progress.release(p.progressToken);
    if (client) {
      client.inflight.delete(p.key);
      r.released(client, p.counted);
    }
    if (isError || !p.onText?.(text, idSpan)) {
      const msg = parseMessage(text);
      if (msg.kind === "response") p.onResponse(msg);
      // A client's request is answered whatever the child wrote (its answer went nowhere before).
      else if (client) p.onResponse(syntheticError(RpcErrorCode.InternalError, INVALID_ANSWER));
    }
    if (client) r.settled(client);
    return;
  }
  // Task results and URL-elicitation errors are rare: only then is the message scanned.
  const mayCreateTask = !isError && p.method === "tools/call" && text.includes('"taskId"');
  const resultSpan = mayCreateTask ? scanObject(text)?.keys.get("result") : undefined;
  const taskSpan = resultSpan ? spanAt(text, ["task", "taskId"], resultSpan[0]) : null;
  if (!taskSpan) r.progress.release(p.progressToken);
  const owner = client as MuxClient;
  owner.inflight.delete(p.key);
  if (isError && text.includes(URL_ELICITATION_CODE)) {
    const errorSpan = scanObject(text)?.keys.get("error");
    if (errorSpan) noteElicitations(r, owner, text, errorSpan);
  } else if (taskSpan) noteTask(r, owner, text, taskSpan, p.progressToken);
  p.reply(splice(text, idSpan, p.rawId));
  r.released(owner, p.counted);
  r.settled(owner);
  r.host.changed();
}

/** 2026-07-28 `subscriptions/listen`: notifications carry the listen's id; give it back to its owner only. */
function routeListenNotification(r: RoutingCore, text: string, params: JsonObject | undefined): boolean {
  const meta = params?._meta as JsonObject | undefined;
  const id = meta?.[SUBSCRIPTION_ID_KEY];
  if (typeof id !== "number") return false;
  const listen = r.pending.listen(id);
  if (!listen) return false;
  const span = spanAt(text, ["params", "_meta", SUBSCRIPTION_ID_KEY]);
  if (span) listen.client.send(splice(text, span, listen.rawId), "notification", listen.key);
  return true;
}

/** A -32042 (URL elicitation required) answer: its elicitations belong to the client it goes to. */
function noteElicitations(r: RoutingCore, client: MuxClient, text: string, span: Span): void {
  try {
    const err = JSON.parse(text.slice(span[0], span[1])) as { code?: number; data?: { elicitations?: unknown[] } };
    if (err.code !== RpcErrorCode.UrlElicitationRequired) return;
    for (const e of err.data?.elicitations ?? []) {
      const id = (e as JsonObject).elicitationId;
      if (typeof id === "string") r.serverRequests.noteElicitation(id, client);
    }
  } catch {}
}

/** A `tools/call` answered with a task: the client owns it; its progress token lives on. */
function noteTask(r: RoutingCore, client: MuxClient, text: string, taskSpan: Span, token?: number): void {
  const taskId = JSON.parse(text.slice(taskSpan[0], taskSpan[1])) as unknown;
  if (typeof taskId !== "string") return;
  r.tasks.note(taskId, client);
  if (token !== undefined) r.progress.keepForTask(taskId, token);
}
