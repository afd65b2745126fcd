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
  /** The host's pid, when its mux-proxy said (untrusted). */
  pid: number | null;
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
  hostPid?: number;
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
    this.push(this.message("in", client, s, s.method, undefined, line));
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
    this.push(this.message("out", client, s, method, ms, line));
  }

  /** A line the child wrote to stderr. */
  stderr(text: string): void {
    if (!this.enabled) return;
    this.push(this.other("stderr", text));
  }

  /** A lifecycle event (start, exit and why, restart, failure, dormancy, reload). */
  event(text: string): void {
    if (!this.enabled) return;
    this.push(this.other("event", text));
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
      c = { id: client.id, name: null, transport: client.transport, workspace: null, pid: client.hostPid ?? null };
      this.clients.set(client, c);
    }
    if (c.name === null) {
      const n = client.clientInfo?.name;
      const name = typeof n === "string" ? n : this.names.get(client);
      if (name) c.name = name.slice(0, 100);
    }
    if (c.workspace === null && client.workspace) c.workspace = client.workspace;
    if (c.pid === null && client.hostPid) c.pid = client.hostPid;
    return c;
  }

  private payloadOf(line: WireLine): unknown {
    const bytes = lengthOf(line);
    if (bytes > MAX_PAYLOAD_BYTES) return `[${bytes} bytes: too big to keep]`;
    try {
      const text = typeof line === "string" ? line : textOf(line);
      return this.redactValue(JSON.parse(text), 0);
    } catch {
      return "[not JSON]";
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

  /** A message entry; every entry has the same shape (absent fields undefined, left out of JSON). */
  private message(
    dir: "in" | "out",
    client: RecordedClient,
    s: Summary,
    method: string | undefined,
    ms: number | undefined,
    line: WireLine,
  ): RecordEntry {
    return {
      seq: 0,
      t: 0,
      service: this.options.service,
      type: "message",
      dir,
      kind: s.kind,
      client: this.who(client),
      method,
      id: s.id,
      ms,
      code: s.code,
      bytes: s.bytes,
      text: undefined,
      payload: this.options.payloads ? this.payloadOf(line) : undefined,
    };
  }

  private other(type: "stderr" | "event", text: string): RecordEntry {
    return {
      seq: 0,
      t: 0,
      service: this.options.service,
      type,
      dir: undefined,
      kind: undefined,
      client: undefined,
      method: undefined,
      id: undefined,
      ms: undefined,
      code: undefined,
      bytes: undefined,
      text: text.slice(0, MAX_TEXT),
      payload: undefined,
    };
  }

  private push(e: RecordEntry): void {
    e.seq = ++this.seq;
    e.t = Date.now();
    const size = sizeOf(e);
    const { maxEntries, maxBytes } = this.options;
    while (this.count > 0 && (this.count >= maxEntries || this.bytesHeld + size > maxBytes)) this.dropOldest();
    if (size > maxBytes) {
      // Bigger than the whole record: keep its summary only.
      e.payload = undefined;
      e.text = undefined;
    }
    this.ring.push(e);
    this.sizes.push(size);
    this.count++;
    this.bytesHeld += size;
    if (this.followers.size > 0) for (const f of this.followers) f(e);
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

/** What the record keeps of a line: kind, method, id, error code, bytes. */
export interface Summary {
  kind: string;
  method?: string;
  id?: string;
  code?: number;
  bytes: number;
}

export function summarise(line: WireLine, idAtEnd = false): Summary {
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
  if (!s.includes("\\")) return s;
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
function scanTop(s: string): Top {
  const out: Top = {};
  let i = 0;
  const n = s.length;
  while (i < n && s.charCodeAt(i) <= 32) i++;
  const first = s.charCodeAt(i);
  if (first === 91 /* [ */) {
    out.batch = true;
    return out;
  }
  if (first !== 123 /* { */) return out;
  let depth = 0;
  let key: string | undefined;
  let inError = false;
  let expectKey = false;
  for (; i < n; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 34 /* " */) {
      const end = stringEnd(s, i);
      if (end < 0) return out;
      if (expectKey) {
        key = s.slice(i + 1, end);
        expectKey = false;
      } else if (depth === 1 && key === "method") out.method = jsonUnescape(s.slice(i + 1, end)).slice(0, 200);
      else if (depth === 1 && key === "id") out.id = s.slice(i, end + 1);
      i = end;
      continue;
    }
    if (ch === 123 || ch === 91 /* { [ */) {
      if (depth === 1 && key === "error") {
        out.error = true;
        inError = ch === 123;
      } else if (depth === 1 && key === "result") out.result = true;
      depth++;
      expectKey = ch === 123;
      continue;
    }
    if (ch === 125 || ch === 93 /* } ] */) {
      depth--;
      if (depth === 1) inError = false;
      if (depth === 0) return out;
      continue;
    }
    if (ch === 44 /* , */) {
      expectKey = isObjectLevel(depth, inError);
      continue;
    }
    if (ch === 58 || ch <= 32 /* : and blanks */) continue;
    // A bare value (number, true, false, null).
    let j = i;
    while (j < n) {
      const c = s.charCodeAt(j);
      if (c === 44 || c === 125 || c === 93 || c <= 32) break;
      j++;
    }
    if (depth === 1 && key === "id") {
      const word = s.slice(i, j);
      if (word !== "null") out.id = word;
    } else if (depth === 1 && key === "result") out.result = true;
    else if (depth === 2 && inError && key === "code") {
      const code = Number(s.slice(i, j));
      if (Number.isInteger(code)) out.code = code;
    }
    i = j - 1;
  }
  return out;
}

interface Top {
  method?: string;
  id?: string;
  code?: number;
  error?: boolean;
  result?: boolean;
  batch?: boolean;
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
