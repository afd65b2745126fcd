/**
 * The record of a service: a bounded ring of what flowed (each message with its time,
 * direction, client, method, id, duration, outcome and size), the child's stderr lines and
 * lifecycle events. `mux logs` and the dashboard read it through the control socket and the
 * dashboard's endpoints, never through MCP.
 *
 * The hot path stays cheap: a message is summarised from its first bytes (and its last, for a
 * response's id) by a bounded scan, never a second full parse. Payloads are kept only when the
 * service opts in (`record_payloads`), parsed then (bounded) and redacted: credential-like keys,
 * the keys the config marks, and the values of the service's env.
 * @module
 */

import type { WireLine as Wire } from "../protocol/message.ts";

/** A line as the record takes it: text, bytes, or the parts the router splices. */
type WireLine = Wire | Uint8Array;

/** Who an entry is about. */
export interface RecordClient {
  id: number;
  /** The host's name from its `clientInfo` (at most 100 characters), when it sent one. */
  name: string | null;
  transport: string;
  workspace: string | null;
}

/** One entry of the record. */
export interface RecordEntry {
  /** Increasing number within the service. */
  seq: number;
  /** Milliseconds since the epoch. */
  t: number;
  service: string;
  /** `message`: a JSON-RPC line; `stderr`: a line the child wrote there; `event`: lifecycle. */
  type: "message" | "stderr" | "event";
  /** `in`: client → mux, `out`: mux → client. */
  dir?: "in" | "out";
  /** `request`, `notification`, `response`, `error` (an error response), `batch`, `other`. */
  kind?: string;
  client?: RecordClient;
  method?: string;
  /** The id as JSON text, as the client sees it. */
  id?: string;
  /** A response: milliseconds since its request arrived. */
  ms?: number;
  /** An error response's code. */
  code?: number;
  /** Bytes of the line. */
  bytes?: number;
  /** A stderr line, or what an event says. */
  text?: string;
  /** The message (redacted), when payload capture is on. */
  payload?: unknown;
}

/** Limits and payload settings of a record. */
export interface RecordOptions {
  service: string;
  /** At most this many entries (0: nothing is recorded). */
  maxEntries: number;
  /** At most about this many bytes of entries. */
  maxBytes: number;
  /** Keep (redacted) payloads. */
  payloads: boolean;
  /** More keys whose values are redacted, besides the credential-like ones. */
  redactKeys: readonly string[];
  /** The service's env values: redacted wherever they appear in a payload. */
  secrets: readonly string[];
}

/** The subset of a client the record reads. */
export interface RecordedClient {
  readonly id: number;
  readonly transport: string;
  clientInfo: { name?: unknown } | undefined;
  workspace: string | undefined;
}

/** A service's record. */
export class Recorder {
  readonly options: RecordOptions;
  private readonly ring: (RecordEntry | undefined)[] = [];
  private head = 0;
  private count = 0;
  private bytesHeld = 0;
  private readonly sizes: number[] = [];
  private seq = 0;
  private readonly followers = new Set<(e: RecordEntry) => void>();
  /** Requests waiting for their response, per client: id text → arrival and method. */
  private readonly waiting = new WeakMap<RecordedClient, Map<string, { t: number; method: string }>>();
  private readonly names = new WeakMap<RecordedClient, string>();
  private readonly clients = new WeakMap<RecordedClient, RecordClient>();
  private readonly redact: RegExp;

  constructor(options: RecordOptions) {
    this.options = options;
    const marked = options.redactKeys.map((k) => k.toLowerCase());
    this.redact = new RegExp(
      `^(?:.*(?:token|secret|password|passwd|authorization|api[-_]?key|cookie|credential|private[-_]?key).*${marked.length ? `|${marked.map(escapeRe).join("|")}` : ""})$`,
      "i",
    );
  }

  /** False when the record is off (`record_max_entries = 0`): callers skip all work. */
  get enabled(): boolean {
    return this.options.maxEntries > 0;
  }

  /** Entries held now. */
  get size(): number {
    return this.count;
  }

  /** Approximate bytes held now. */
  get bytes(): number {
    return this.bytesHeld;
  }

  /** A line from a client (after its hello, which is never recorded). */
  inbound(client: RecordedClient, line: string | Uint8Array): void {
    if (!this.enabled) return;
    const s = summarise(line);
    if (s.method === "initialize" && typeof line === "string") {
      const name = /"clientInfo"\s*:\s*\{[^{}]{0,400}?"name"\s*:\s*"((?:[^"\\]|\\.){0,100})"/.exec(line.slice(0, 2048));
      if (name?.[1]) this.names.set(client, jsonUnescape(name[1]));
    }
    if (s.kind === "request" && s.id !== undefined && s.method !== undefined) {
      let map = this.waiting.get(client);
      if (!map) {
        map = new Map();
        this.waiting.set(client, map);
      }
      if (map.size >= MAX_WAITING) map.delete(map.keys().next().value as string);
      map.set(s.id, { t: Date.now(), method: s.method });
    }
    this.push({ type: "message", dir: "in", client: this.who(client), ...s, ...this.payloadOf(line) });
  }

  /** A line sent to a client. */
  outbound(client: RecordedClient, line: WireLine, kind: string): void {
    if (!this.enabled) return;
    const s = summarise(line, kind === "response");
    let ms: number | undefined;
    let method = s.method;
    if ((s.kind === "response" || s.kind === "error") && s.id !== undefined) {
      const map = this.waiting.get(client);
      const asked = map?.get(s.id);
      if (asked) {
        map?.delete(s.id);
        ms = Date.now() - asked.t;
        method = asked.method;
      }
    }
    this.push({ type: "message", dir: "out", client: this.who(client), ...s, method, ms, ...this.payloadOf(line) });
  }

  /** A line the child wrote to stderr. */
  stderr(text: string): void {
    if (!this.enabled) return;
    this.push({ type: "stderr", text: text.slice(0, MAX_TEXT) });
  }

  /** A lifecycle event (start, exit and why, restart, failure, dormancy, reload). */
  event(text: string): void {
    if (!this.enabled) return;
    this.push({ type: "event", text: text.slice(0, MAX_TEXT) });
  }

  /** Entries held, oldest first, that pass `filter`. */
  entries(filter?: (e: RecordEntry) => boolean): RecordEntry[] {
    const out: RecordEntry[] = [];
    for (let i = this.head; i < this.ring.length; i++) {
      const e = this.ring[i] as RecordEntry;
      if (!filter || filter(e)) out.push(e);
    }
    return out;
  }

  /** Call `fn` with every new entry until the returned function is called. */
  follow(fn: (e: RecordEntry) => void): () => void {
    this.followers.add(fn);
    return () => this.followers.delete(fn);
  }

  // --- internal ---

  private who(client: RecordedClient): RecordClient {
    let c = this.clients.get(client);
    if (!c) {
      c = { id: client.id, name: null, transport: client.transport, workspace: null };
      this.clients.set(client, c);
    }
    if (c.name === null) {
      const n = client.clientInfo?.name;
      const name = typeof n === "string" ? n : this.names.get(client);
      if (name) c.name = name.slice(0, 100);
    }
    if (c.workspace === null && client.workspace) c.workspace = client.workspace;
    return c;
  }

  private payloadOf(line: WireLine): { payload?: unknown } {
    if (!this.options.payloads) return {};
    const bytes = lengthOf(line);
    if (bytes > MAX_PAYLOAD_BYTES) return { payload: `[${bytes} bytes: too big to keep]` };
    try {
      const text = typeof line === "string" ? line : textOf(line);
      return { payload: this.redactValue(JSON.parse(text), 0) };
    } catch {
      return { payload: "[not JSON]" };
    }
  }

  private redactValue(value: unknown, depth: number): unknown {
    if (depth > 32) return "[too deep]";
    if (typeof value === "string") {
      // JSON carried as text (a tool's result echoing its arguments): redacted inside too.
      if (value.length >= 2 && value.length <= MAX_PAYLOAD_BYTES && /^\s*[{[]/.test(value)) {
        try {
          return JSON.stringify(this.redactValue(JSON.parse(value), depth + 1));
        } catch {}
      }
      let v = value;
      for (const s of this.options.secrets) if (s.length >= 4 && v.includes(s)) v = v.split(s).join("[redacted]");
      return v.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 [redacted]");
    }
    if (Array.isArray(value)) return value.map((v) => this.redactValue(v, depth + 1));
    if (value && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (depth > 0 && (k === "env" || k === "headers") && v && typeof v === "object" && !Array.isArray(v))
          out[k] = Object.fromEntries(Object.keys(v).map((name) => [name, "[redacted]"]));
        else out[k] = this.redact.test(k) ? "[redacted]" : this.redactValue(v, depth + 1);
      }
      return out;
    }
    return value;
  }

  private push(partial: Omit<RecordEntry, "seq" | "t" | "service">): void {
    const e = { seq: ++this.seq, t: Date.now(), service: this.options.service, ...partial } as RecordEntry;
    for (const k of Object.keys(e) as (keyof RecordEntry)[]) if (e[k] === undefined) delete e[k];
    const size = sizeOf(e);
    const { maxEntries, maxBytes } = this.options;
    while (this.count > 0 && (this.count >= maxEntries || this.bytesHeld + size > maxBytes)) this.dropOldest();
    if (size > maxBytes) {
      // Bigger than the whole record: keep its summary only.
      delete e.payload;
      delete e.text;
    }
    this.ring.push(e);
    this.sizes.push(size);
    this.count++;
    this.bytesHeld += size;
    for (const f of this.followers) f(e);
  }

  private dropOldest(): void {
    this.bytesHeld -= this.sizes[this.head] ?? 0;
    this.ring[this.head] = undefined;
    this.head++;
    this.count--;
    if (this.head > 1024 && this.head * 2 > this.ring.length) {
      this.ring.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }
}

/** The summary of one line: kind, method, id, error code, bytes. */
export function summarise(
  line: WireLine,
  idAtEnd = false,
): { kind: string; method?: string; id?: string; code?: number; bytes: number } {
  const bytes = lengthOf(line);
  const top = scanTop(headOf(line));
  let id = top.id;
  if (id === undefined && (idAtEnd || bytes > SCAN_BYTES)) {
    const tail = tailOf(line);
    id = /"id"\s*:\s*(-?\d{1,20}|"(?:[^"\\]|\\.){0,100}")\s*\}\s*$/.exec(tail)?.[1];
  }
  let kind: string;
  if (top.batch) kind = "batch";
  else if (top.method !== undefined) kind = id !== undefined ? "request" : "notification";
  else if (top.error) kind = "error";
  else if (top.result || id !== undefined) kind = "response";
  else kind = "other";
  return { kind, method: top.method, id, code: top.code, bytes };
}

// --- internal ---

const SCAN_BYTES = 512;
const TAIL_BYTES = 160;
const MAX_TEXT = 4096;
const MAX_WAITING = 4096;
const MAX_PAYLOAD_BYTES = 256 * 1024;

function lengthOf(line: WireLine): number {
  if (typeof line === "string" || line instanceof Uint8Array) return line.length;
  let n = 0;
  for (const p of line) n += p.length;
  return n;
}

function headOf(line: WireLine): string {
  if (typeof line === "string") return line.slice(0, SCAN_BYTES);
  const first = line instanceof Uint8Array ? line : line[0];
  if (first === undefined) return "";
  return typeof first === "string" ? first.slice(0, SCAN_BYTES) : DECODER.decode(first.subarray(0, SCAN_BYTES));
}

function tailOf(line: WireLine): string {
  if (typeof line === "string") return line.slice(-TAIL_BYTES);
  const last = line instanceof Uint8Array ? line : line[line.length - 1];
  if (last === undefined) return "";
  return typeof last === "string"
    ? last.slice(-TAIL_BYTES)
    : DECODER.decode(last.subarray(Math.max(0, last.length - TAIL_BYTES)));
}

function textOf(line: Uint8Array | readonly (string | Uint8Array)[]): string {
  if (line instanceof Uint8Array) return DECODER.decode(line);
  return line.map((p) => (typeof p === "string" ? p : DECODER.decode(p))).join("");
}

const DECODER = new TextDecoder();

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function jsonUnescape(s: string): string {
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    return s;
  }
}

/** Estimated bytes an entry holds. */
function sizeOf(e: RecordEntry): number {
  let n = 96 + (e.method?.length ?? 0) + (e.id?.length ?? 0) + (e.text?.length ?? 0);
  if (e.client) n += 48 + (e.client.name?.length ?? 0) + (e.client.workspace?.length ?? 0);
  if (e.payload !== undefined) n += typeof e.payload === "string" ? e.payload.length : JSON.stringify(e.payload).length;
  return n;
}

/**
 * The top-level `method`, `id`, `error.code` and whether `result`/`error` appear, from the
 * first bytes of a line: a bounded walk that tracks strings and depth, no parse.
 */
function scanTop(s: string): {
  method?: string;
  id?: string;
  code?: number;
  error?: boolean;
  result?: boolean;
  batch?: boolean;
} {
  const out: { method?: string; id?: string; code?: number; error?: boolean; result?: boolean; batch?: boolean } = {};
  let i = 0;
  const n = s.length;
  while (i < n && s.charCodeAt(i) <= 32) i++;
  if (s[i] === "[") {
    out.batch = true;
    return out;
  }
  if (s[i] !== "{") return out;
  let depth = 0;
  let key: string | undefined;
  let inError = false;
  let expectKey = false;
  for (; i < n; i++) {
    const ch = s[i];
    if (ch === '"') {
      const end = stringEnd(s, i);
      if (end < 0) return out;
      const text = s.slice(i + 1, end);
      i = end;
      if (expectKey) {
        key = text;
        expectKey = false;
      } else if (depth === 1 && key === "method") out.method = jsonUnescape(text).slice(0, 200);
      else if (depth === 1 && key === "id") out.id = s.slice(end - text.length - 1, end + 1);
      continue;
    }
    if (ch === "{" || ch === "[") {
      if (depth === 1 && key === "error") {
        out.error = true;
        inError = ch === "{";
      } else if (depth === 1 && key === "result") out.result = true;
      depth++;
      expectKey = ch === "{";
      continue;
    }
    if (ch === "}" || ch === "]") {
      depth--;
      if (depth === 1) inError = false;
      if (depth === 0) return out;
      continue;
    }
    if (ch === ",") {
      expectKey = s[i] === "," && isObjectLevel(depth, inError);
      continue;
    }
    if (ch === ":" || ch === " " || ch === "\n" || ch === "\t" || ch === "\r") continue;
    // A bare value (number, true, false, null).
    let j = i;
    while (j < n && !",}] \n\r\t".includes(s[j] as string)) j++;
    const word = s.slice(i, j);
    if (depth === 1 && key === "id" && word !== "null") out.id = word;
    else if (depth === 1 && key === "result") out.result = true;
    else if (depth === 2 && inError && key === "code") {
      const code = Number(word);
      if (Number.isInteger(code)) out.code = code;
    }
    i = j - 1;
  }
  return out;
}

/** Commas separate keys only inside objects; arrays are skipped by depth (keys below top are ignored). */
function isObjectLevel(depth: number, inError: boolean): boolean {
  return depth === 1 || (depth === 2 && inError) || depth > 2;
}

function stringEnd(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i;
  }
  return -1;
}
