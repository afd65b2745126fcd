/**
 * What the proxy remembers of its host's MCP session, so it can keep the session across a
 * daemon restart: the host's `initialize` and `initialized`, its log level and subscriptions
 * (replayed to the new daemon, their answers kept from the host), the server the host was
 * told about (a changed one ends the session), and the host's requests in flight (answered
 * with an error when the daemon goes away, so none waits forever). Lines are inspected as
 * cheaply as possible: an O(1) id probe for the common layouts, a parse only for the few
 * methods that matter and for odd layouts.
 * @module
 */

import { idKeyOf, isObject } from "../protocol/message.ts";
import { fastIdSpan, scanObject } from "../protocol/scan.ts";
import type { SeenLine } from "./watch.ts";

/** Error code of the answer a request gets when the daemon went away before answering. */
export const DAEMON_GONE_CODE = -32030;

/** The host's side of one MCP session. */
export class HostSession {
  /** Raw ids of the host's requests still waiting for an answer (key → raw text). */
  readonly inflight = new Map<string, string>();
  private initialize: { raw: string; params: unknown } | undefined;
  private initialized = false;
  private level: unknown;
  private readonly subscriptions = new Set<string>();
  /** protocolVersion + capabilities the host was answered with (canonical JSON). */
  private served: string | undefined;

  /** The host initialized through this proxy (there is a session to keep). */
  get started(): boolean {
    return this.served !== undefined;
  }

  /** A line from the host (to the daemon). */
  hostLine(line: SeenLine): void {
    const text = line.text;
    if (text !== undefined && (text.charCodeAt(0) === 0x5b || SPECIAL.test(line.head))) {
      for (const msg of parse(text)) this.hostMessage(msg.value, msg.rawId);
      return;
    }
    const raw = probeId(text ?? "", line.head, line.tail);
    if (raw !== undefined) {
      if (!RESPONSE_START.test(line.head)) this.inflight.set(idKeyOf(raw), raw);
      return;
    }
    if (text !== undefined) for (const msg of parse(text)) this.hostMessage(msg.value, msg.rawId);
  }

  /** A line from the daemon (to the host). */
  daemonLine(line: SeenLine): void {
    if (this.inflight.size === 0) return;
    const text = line.text;
    if (text !== undefined && text.charCodeAt(0) === 0x5b) {
      for (const msg of parse(text)) if (isResponse(msg.value) && msg.rawId) this.answered(msg.rawId, msg.value);
      return;
    }
    const raw = probeId(text ?? "", line.head, line.tail);
    if (raw !== undefined && RESPONSE_START.test(line.head)) {
      this.answered(raw, text !== undefined && this.isInitialize(raw) ? (parse(text)[0]?.value ?? null) : null);
      return;
    }
    if (text === undefined) return;
    for (const msg of parse(text)) if (isResponse(msg.value) && msg.rawId) this.answered(msg.rawId, msg.value);
  }

  /** Error answers for every request in flight (the daemon went away); forgets them. */
  abandon(message: string): string[] {
    const lines = [...this.inflight.values()].map(
      (raw) => `{"jsonrpc":"2.0","id":${raw},"error":${JSON.stringify({ code: DAEMON_GONE_CODE, message })}}`,
    );
    this.inflight.clear();
    return lines;
  }

  /**
   * What to send a new daemon so it serves this host as before: `initialize` (under the
   * proxy's own id, answer kept from the host), then `initialized`, the log level and the
   * subscriptions (answers kept too). Empty when the host had not initialized.
   */
  replay(): { initialize?: { id: string; line: string }; after: { id?: string; line: string }[] } {
    if (!this.initialize) return { after: [] };
    const id = `"mux-proxy-${next++}"`;
    const after: { id?: string; line: string }[] = [];
    if (this.initialized) after.push({ line: '{"jsonrpc":"2.0","method":"notifications/initialized"}' });
    if (this.level !== undefined) {
      const levelId = `"mux-proxy-${next++}"`;
      after.push({ id: levelId, line: request(levelId, "logging/setLevel", { level: this.level }) });
    }
    for (const uri of this.subscriptions) {
      const subId = `"mux-proxy-${next++}"`;
      after.push({ id: subId, line: request(subId, "resources/subscribe", { uri }) });
    }
    return { initialize: { id, line: request(id, "initialize", this.initialize.params) }, after };
  }

  /** Does a new daemon's initialize answer serve the same server the host was told about? */
  sameServer(answerText: string): boolean {
    const value = parse(answerText)[0]?.value;
    return isObject(value) && isObject(value.result) && served(value.result) === this.served;
  }

  // --- internal ---

  private hostMessage(value: unknown, rawId: string | undefined): void {
    if (!isObject(value)) return;
    const method = value.method;
    if (typeof method !== "string") return;
    const params = isObject(value.params) ? value.params : {};
    if (rawId !== undefined) this.inflight.set(idKeyOf(rawId), rawId);
    if (method === "initialize" && rawId !== undefined) this.initialize = { raw: rawId, params: value.params };
    else if (method === "notifications/initialized") this.initialized = true;
    else if (method === "logging/setLevel") this.level = params.level;
    else if (method === "resources/subscribe" && typeof params.uri === "string") this.subscriptions.add(params.uri);
    else if (method === "resources/unsubscribe" && typeof params.uri === "string")
      this.subscriptions.delete(params.uri);
  }

  private isInitialize(raw: string): boolean {
    return this.initialize !== undefined && idKeyOf(this.initialize.raw) === idKeyOf(raw) && this.served === undefined;
  }

  private answered(raw: string, value: unknown): void {
    const key = idKeyOf(raw);
    this.inflight.delete(key);
    if (this.initialize && this.served === undefined && idKeyOf(this.initialize.raw) === key) {
      if (isObject(value) && isObject(value.result)) this.served = served(value.result);
    }
  }
}

// --- internal ---

let next = 1;

/** Host lines worth a parse: the methods the session keeps. */
const SPECIAL = /"(initialize|notifications\/initialized|logging\/setLevel|resources\/(un)?subscribe)"/;
/** A line that is a response (not a request) from its first bytes. */
const RESPONSE_START =
  /^\s*\{\s*("result"|"error"|"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*,\s*"(result|error)")/;

function request(rawId: string, method: string, params: unknown): string {
  return `{"jsonrpc":"2.0","id":${rawId},"method":${JSON.stringify(method)}${params === undefined ? "" : `,"params":${JSON.stringify(params)}`}}`;
}

function served(result: Record<string, unknown>): string {
  return canonical({ protocolVersion: result.protocolVersion, capabilities: result.capabilities });
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isObject(value))
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

function isResponse(value: unknown): boolean {
  return isObject(value) && value.method === undefined && ("result" in value || "error" in value);
}

/** The raw id of a line in an SDK layout (`{"jsonrpc":"2.0","id":…` or `…"id":…}`), from its text or its ends. */
function probeId(text: string, head: string, tail: string): string | undefined {
  if (text) {
    const span = fastIdSpan(text);
    return span ? text.slice(span[0], span[1]) : undefined;
  }
  const h = fastIdSpan(`${head}}`);
  if (h && head.startsWith('{"jsonrpc":"2.0","id":')) return head.slice(h[0], h[1]);
  const t = /"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*\}\s*$/.exec(tail);
  return t?.[1];
}

/** Parse a line into messages with their raw ids (a batch gives several). */
function parse(text: string): { value: unknown; rawId: string | undefined }[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  const rawIdOf = (item: unknown, itemText: string): string | undefined => {
    if (!isObject(item) || (typeof item.id !== "string" && typeof item.id !== "number")) return undefined;
    const span = scanObject(itemText)?.keys.get("id");
    return span ? itemText.slice(span[0], span[1]) : JSON.stringify(item.id);
  };
  if (!Array.isArray(value)) return [{ value, rawId: rawIdOf(value, text) }];
  return value.map((item) => ({ value: item, rawId: rawIdOf(item, JSON.stringify(item)) }));
}
