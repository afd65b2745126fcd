/**
 * What the proxy remembers of its host's MCP session, so it can keep the session across a
 * daemon restart: the host's `initialize` and `initialized`, its log level and subscriptions
 * (replayed to the new daemon, their answers kept from the host), the server the host was
 * told about (a changed one ends the session), and the host's requests in flight: each is
 * answered exactly once, by the daemon, or when the daemon goes away with an error saying
 * whether it may have run (sent whole: -32030) or did not (its line was not sent whole:
 * -32037, and it is never sent later). Lines are inspected as
 * cheaply as possible: an O(1) id probe for the common layouts, a parse only for the few
 * methods that matter and for odd layouts.
 * @module
 */

import { idKeyOf, isObject } from "../protocol/message.ts";
import { errorLine, RpcErrorCode } from "../protocol/rpc-error.ts";
import { scanObject } from "../protocol/scan.ts";
import type { SeenLine } from "./watch.ts";

/** The host's side of one MCP session. */
export class HostSession {
  /** Raw ids of the host's requests still waiting for an answer (key → raw text). */
  readonly inflight = new Map<string, string>();
  /**
   * The requests among them whose line was not yet handed to the daemon whole, in stream
   * order: where each line ends in the host's stream, and its key.
   */
  private unsentEnds: number[] = [];
  private unsentKeys: string[] = [];
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

  /**
   * The common host line, read from its bytes without decoding it: a TypeScript SDK request
   * (`{"method":"…",…,"id":123}`) whose method the session does not keep. False: use
   * {@link hostLine}.
   */
  quickHostLine(b: Uint8Array, start: number, end: number, lineEnd: number): boolean {
    if (b[start] !== LBRACE || b[start + 1] !== QUOTE || b[start + 2] !== LOWER_M || b[start + 10] !== QUOTE)
      return false;
    // `{"method":"` then the method: the kept ones start with i, l, n or r (and so do a few others).
    const m = b[start + 11];
    if (m === LOWER_I || m === LOWER_L || m === LOWER_N || m === LOWER_R) return false;
    const digits = integerIdAtEnd(b, start, end);
    if (digits === undefined) return false;
    const raw = decoder.decode(b.subarray(digits, end - 1));
    this.track(`n${raw}`, raw, lineEnd);
    return true;
  }

  /** The common daemon line from its bytes: a response with an integer id last, or the server's own message. */
  quickDaemonLine(b: Uint8Array, start: number, end: number): boolean {
    if (b[start] !== LBRACE || b[start + 1] !== QUOTE) return false;
    const c = b[start + 2];
    if (c === LOWER_M) return true; // `{"method":…`: the server's request or notification
    if (this.served === undefined) return false; // the initialize answer is read whole
    let from: number | undefined;
    let to: number | undefined;
    if (
      (c === LOWER_R && b[start + 3] === LOWER_E && b[start + 4] === LOWER_S) ||
      (c === LOWER_E && b[start + 3] === LOWER_R)
    ) {
      // `{"result":…,"jsonrpc":"2.0","id":123}` (the TypeScript SDK)
      from = integerIdAtEnd(b, start, end);
      to = end - 1;
    } else if (c === LOWER_J && b[start + 16] === 0x2c && b[start + 18] === LOWER_I && b[start + 21] === 0x3a) {
      // `{"jsonrpc":"2.0","id":123,"result"…` (most other SDKs)
      let k = start + 22;
      while (k < end && (b[k] as number) >= 0x30 && (b[k] as number) <= 0x39) k++;
      const r = b[k + 2];
      if (k > start + 22 && k - start < 38 && b[k] === 0x2c && b[k + 1] === QUOTE && (r === LOWER_R || r === LOWER_E)) {
        from = start + 22;
        to = k;
      }
    }
    if (from === undefined || to === undefined) return false;
    if (this.inflight.size > 0) this.inflight.delete(`n${decoder.decode(b.subarray(from, to))}`);
    return true;
  }

  /** A line from the host (to the daemon). */
  hostLine(line: SeenLine): void {
    const { text, head } = line;
    // Batches and the few methods the session keeps are parsed; everything else is one or two
    // native regex matches (this runs for every message; see hostText for the rest).
    if (head.charCodeAt(0) === LBRACKET || SPECIAL.test(head)) return this.hostText(text, line.end);
    if (RESPONSE_START.test(head)) {
      if (text !== undefined && !METHOD_START.test(head)) this.hostText(text, line.end);
      return;
    }
    const raw = rawId(head, line.tail);
    if (raw !== undefined) this.track(idKeyOf(raw), raw, line.end);
    else this.hostText(text, line.end);
  }

  /** A line from the daemon (to the host). */
  daemonLine(line: SeenLine): void {
    if (this.inflight.size === 0) return;
    const { text, head } = line;
    if (head.charCodeAt(0) !== LBRACKET) {
      if (RESPONSE_START.test(head)) {
        const raw = rawId(head, line.tail);
        if (raw !== undefined) {
          this.answered(raw, text !== undefined && this.isInitialize(raw) ? (parse(text)[0]?.value ?? null) : null);
          return;
        }
      } else if (METHOD_START.test(head)) return; // the server's own requests and notifications
    }
    if (text === undefined) return;
    for (const msg of parse(text)) if (isResponse(msg.value) && msg.rawId) this.answered(msg.rawId, msg.value);
  }

  /** The host's stream up to `offset` was handed to the daemon: the requests whose lines end there were sent. */
  sent(offset: number): void {
    const n = this.unsentEnds.length;
    if (n === 0) return;
    if ((this.unsentEnds[n - 1] as number) <= offset) {
      this.unsentEnds.length = 0;
      this.unsentKeys.length = 0;
      return;
    }
    let i = 0;
    while (i < n && (this.unsentEnds[i] as number) <= offset) i++;
    this.unsentEnds.splice(0, i);
    this.unsentKeys.splice(0, i);
  }

  /**
   * The host's stream up to `offset` was dropped, not sent (the rest of a line the daemon that
   * went away had only part of): error answers (-32037, it did not run) for the requests whose
   * lines end there; forgets them.
   */
  dropped(offset: number, message: string): string[] {
    const lines: string[] = [];
    let i = 0;
    while (i < this.unsentEnds.length && (this.unsentEnds[i] as number) <= offset) {
      const key = this.unsentKeys[i] as string;
      const raw = this.inflight.get(key);
      if (raw !== undefined) {
        lines.push(errorLine(raw, RpcErrorCode.RequestNotSent, message));
        this.inflight.delete(key);
      }
      i++;
    }
    this.unsentEnds.splice(0, i);
    this.unsentKeys.splice(0, i);
    return lines;
  }

  /**
   * The daemon went away: error answers (-32030, it may have run) for every request it was
   * sent and did not answer; forgets them. Requests not sent yet stay, for the next daemon.
   */
  abandon(message: string): string[] {
    const held = new Set(this.unsentKeys);
    const lines: string[] = [];
    for (const [key, raw] of this.inflight) {
      if (held.has(key)) continue;
      lines.push(errorLine(raw, RpcErrorCode.ServerExited, message));
      this.inflight.delete(key);
    }
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

  /** A request of the host's, in flight from now on; its line ends at `lineEnd` in the host's stream. */
  private track(key: string, raw: string, lineEnd: number): void {
    this.inflight.set(key, raw);
    this.unsentEnds.push(lineEnd);
    this.unsentKeys.push(key);
  }

  private hostText(text: string | undefined, lineEnd: number): void {
    if (text !== undefined) for (const msg of parse(text)) this.hostMessage(msg.value, msg.rawId, lineEnd);
  }

  private hostMessage(value: unknown, rawId: string | undefined, lineEnd: number): void {
    if (!isObject(value)) return;
    const method = value.method;
    if (typeof method !== "string") return;
    const params = isObject(value.params) ? value.params : {};
    if (rawId !== undefined) this.track(idKeyOf(rawId), rawId, lineEnd);
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

/** Host lines worth a parse: the methods the session keeps (searched in the first bytes). */
const SPECIAL = /^[\s\S]{0,256}?"(initialize|notifications\/initialized|logging\/setLevel|resources\/(un)?subscribe)"/;
/** A line that starts as a response: `{"result"`, `{"error"`, or `{"jsonrpc":"2.0","id":X,"result"|"error"`. */
const RESPONSE_START =
  /^\s*\{\s*("result"|"error"|"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*,\s*"(result|error)")/;
/** A line that names its method first or right after jsonrpc and id. */
const METHOD_START =
  /^\s*\{\s*("method"|"jsonrpc"\s*:\s*"2\.0"\s*,\s*("id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*,\s*)?"method")/;
/** The id right after `{"jsonrpc":"2.0",` (Python and most SDKs). */
const HEAD_ID = /^\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*[,}]/;
/** The id as the last member (the TypeScript SDK), matched from near the end only. */
const TAIL_ID = /[,{]\s*"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*\}\s*$/g;
const LBRACKET = 0x5b;
const LBRACE = 0x7b;
const QUOTE = 0x22;
const LOWER_E = 0x65;
const LOWER_I = 0x69;
const LOWER_J = 0x6a;
const LOWER_L = 0x6c;
const LOWER_M = 0x6d;
const LOWER_N = 0x6e;
const LOWER_R = 0x72;
const LOWER_S = 0x73;
const decoder = new TextDecoder();

/** Where the digits of a last member `,"id":123}` start, or undefined for any other ending. */
function integerIdAtEnd(b: Uint8Array, start: number, end: number): number | undefined {
  if (b[end - 1] !== 0x7d) return undefined;
  let j = end - 2;
  while (j > start && (b[j] as number) >= 0x30 && (b[j] as number) <= 0x39) j--;
  if (j === end - 2 || end - 2 - j > 15) return undefined;
  // `,"id":` before the digits (a negative or odd id takes the general path).
  if (b[j] !== 0x3a || b[j - 1] !== QUOTE || b[j - 2] !== 0x64 || b[j - 3] !== LOWER_I || b[j - 4] !== QUOTE)
    return undefined;
  return b[j - 5] === 0x2c ? j + 1 : undefined;
}

/** The raw id of a line in the two common layouts; undefined for any other. */
function rawId(head: string, tail: string): string | undefined {
  const h = HEAD_ID.exec(head);
  if (h) return h[1];
  TAIL_ID.lastIndex = Math.max(0, tail.length - 128);
  return TAIL_ID.exec(tail)?.[1];
}

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
