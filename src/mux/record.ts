/**
 * The record of a service: a bounded ring of what flowed (each message with its time,
 * direction, client, method, id, duration, outcome and size), the child's stderr lines and
 * lifecycle events. `mux logs` and the dashboard read it through the control socket and the
 * dashboard's endpoints, never through MCP.
 *
 * The hot path stays nearly free: the router hands the record each client message as it
 * parsed it (kind, method, id), and a request's answer carries back its method, id and
 * arrival (`Asked`), so nothing is scanned again and nothing is matched by id; the answer's
 * outcome is read from its first bytes when it has a common layout. Entries are kept in a
 * ring of fixed slots (parallel typed arrays), and entry objects are built only when
 * someone reads (`entries`) or follows. Lines nobody parsed (`inbound`/`outbound`, rare
 * layouts) are summarised from their first bytes (and their last, for an answer's id) by a
 * bounded scan. Payloads are kept only when the service opts in (`record_payloads`), parsed
 * then (bounded) and redacted: credential-like keys, the keys the config marks, and the
 * values of the service's env.
 * @module
 */

import type { Message, WireLine as Wire } from "../protocol/message.ts";
import type { Asked, ClientTap, SendKind } from "./client.ts";

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
  private seq = 0;
  private held = 0;
  private bytesHeld = 0;
  /** The ring: `cap` slots (grown up to `maxEntries`), the oldest entry at slot `first`. */
  private cap = 0;
  private first = 0;
  private t = new Float64Array(0);
  /** Type, direction and kind of each entry (see {@link TYPE_BITS}). */
  private info = new Uint8Array(0);
  /** Duration, error code and bytes of a message (NaN: none). */
  private ms = new Float64Array(0);
  private code = new Float64Array(0);
  private len = new Float64Array(0);
  /** Estimated bytes of each entry (what the bytes cap counts). */
  private cost = new Float64Array(0);
  private who: (RecordClient | undefined)[] = [];
  private method: (string | undefined)[] = [];
  private id: (string | undefined)[] = [];
  private text: (string | undefined)[] = [];
  private payload: unknown[] = [];
  private readonly followers = new Set<(e: RecordEntry) => void>();
  private readonly taps = new WeakMap<RecordedClient, ClientRecord>();
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
    return this.held;
  }

  /** Approximate bytes held now. */
  get bytes(): number {
    return this.bytesHeld;
  }

  /** The record of one client: the service sets it as the client's `tap` (one per client). */
  tap(client: RecordedClient): ClientRecord {
    let tap = this.taps.get(client);
    if (!tap) {
      tap = new ClientRecord(this, client);
      this.taps.set(client, tap);
    }
    return tap;
  }

  /** A line from a client that nobody parsed (summarised here; its answer is matched by id). */
  inbound(client: RecordedClient, line: string | Uint8Array): void {
    if (this.enabled) this.tap(client).line(line, true);
  }

  /** A line sent to a client, with no word of the request it answers (matched by id). */
  outbound(client: RecordedClient, line: WireLine, kind: string): void {
    if (this.enabled) this.tap(client).sent(line, kind, undefined);
  }

  /** A line the child wrote to stderr. */
  stderr(text: string): void {
    this.note(TYPE_STDERR, text);
  }

  /** A lifecycle event (start, exit and why, restart, failure, dormancy, reload). */
  event(text: string): void {
    this.note(TYPE_EVENT, text);
  }

  /** A text entry (stderr line or event) with no client. */
  private note(type: typeof TYPE_STDERR | typeof TYPE_EVENT, text: string): void {
    if (this.enabled)
      this.push(Date.now(), type, undefined, undefined, undefined, NaN, NaN, NaN, text.slice(0, MAX_TEXT), undefined);
  }

  /** Entries held, oldest first, that pass `filter` (built now: the ring keeps no objects). */
  entries(filter?: (e: RecordEntry) => boolean): RecordEntry[] {
    const out: RecordEntry[] = [];
    for (let k = 0; k < this.held; k++) {
      const e = this.entryAt(k);
      if (!filter || filter(e)) out.push(e);
    }
    return out;
  }

  /** Call `fn` with every new entry until the returned function is called. */
  follow(fn: (e: RecordEntry) => void): () => void {
    this.followers.add(fn);
    return () => this.followers.delete(fn);
  }

  /**
   * A message entry (what the client records call): `info` is its direction and kind, NaN
   * stands for no duration / code; the line is read only when payloads are kept.
   */
  message(
    t: number,
    info: number,
    who: RecordClient,
    method: string | undefined,
    id: string | undefined,
    ms: number,
    code: number,
    bytes: number,
    line: WireLine,
  ): void {
    const payload = this.options.payloads ? this.payloadOf(line) : undefined;
    this.push(t, info, who, method, id, ms, code, bytes, undefined, payload);
  }

  // --- internal ---

  private push(
    t: number,
    info: number,
    who: RecordClient | undefined,
    method: string | undefined,
    id: string | undefined,
    ms: number,
    code: number,
    bytes: number,
    text: string | undefined,
    payload: unknown,
  ): void {
    let size = 96 + (method?.length ?? 0) + (id?.length ?? 0) + (text?.length ?? 0);
    if (who !== undefined) size += 48 + (who.name?.length ?? 0) + (who.workspace?.length ?? 0);
    if (payload !== undefined) size += typeof payload === "string" ? payload.length : JSON.stringify(payload).length;
    const { maxEntries, maxBytes } = this.options;
    while (this.held > 0 && (this.held >= maxEntries || this.bytesHeld + size > maxBytes)) this.dropOldest();
    if (size > maxBytes) {
      // Bigger than the whole record: keep its summary only.
      payload = undefined;
      text = undefined;
    }
    if (this.held === this.cap) this.grow();
    let i = this.first + this.held;
    if (i >= this.cap) i -= this.cap;
    this.t[i] = t;
    this.info[i] = info;
    this.ms[i] = ms;
    this.code[i] = code;
    this.len[i] = bytes;
    this.cost[i] = size;
    this.who[i] = who;
    this.method[i] = method;
    this.id[i] = id;
    this.text[i] = text;
    if (this.options.payloads) this.payload[i] = payload;
    this.seq++;
    this.held++;
    this.bytesHeld += size;
    if (this.followers.size > 0) {
      const e = this.entryAt(this.held - 1);
      for (const f of this.followers) f(e);
    }
  }

  private dropOldest(): void {
    const i = this.first;
    this.bytesHeld -= this.cost[i] as number;
    this.who[i] = undefined;
    this.method[i] = undefined;
    this.id[i] = undefined;
    this.text[i] = undefined;
    if (this.options.payloads) this.payload[i] = undefined;
    this.first = i + 1 === this.cap ? 0 : i + 1;
    this.held--;
  }

  /** A full ring below `maxEntries`: twice the slots (so a small record never holds a big ring). */
  private grow(): void {
    const cap = Math.min(this.options.maxEntries, Math.max(MIN_SLOTS, this.cap * 2));
    const order = (k: number): number => (this.first + k) % this.cap;
    const floats = (a: Float64Array): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(cap);
      for (let k = 0; k < this.held; k++) b[k] = a[order(k)] as number;
      return b;
    };
    const list = <T>(a: T[]): T[] => {
      const b = new Array<T>(cap).fill(undefined as T);
      for (let k = 0; k < this.held; k++) b[k] = a[order(k)] as T;
      return b;
    };
    const info = new Uint8Array(cap);
    for (let k = 0; k < this.held; k++) info[k] = this.info[order(k)] as number;
    this.info = info;
    this.t = floats(this.t);
    this.ms = floats(this.ms);
    this.code = floats(this.code);
    this.len = floats(this.len);
    this.cost = floats(this.cost);
    this.who = list(this.who);
    this.method = list(this.method);
    this.id = list(this.id);
    this.text = list(this.text);
    if (this.options.payloads) this.payload = list(this.payload);
    this.first = 0;
    this.cap = cap;
  }

  /** The `k`-th oldest entry held, as an object; every entry has the same shape (absent fields undefined, left out of JSON). */
  private entryAt(k: number): RecordEntry {
    let i = this.first + k;
    if (i >= this.cap) i -= this.cap;
    const info = this.info[i] as number;
    const type = info & TYPE_BITS;
    const message = type === TYPE_MESSAGE;
    const ms = this.ms[i] as number;
    const code = this.code[i] as number;
    return {
      seq: this.seq - this.held + 1 + k,
      t: this.t[i] as number,
      service: this.options.service,
      type: message ? "message" : type === TYPE_STDERR ? "stderr" : "event",
      dir: message ? (info & DIR_IN ? "in" : "out") : undefined,
      kind: message ? KINDS[info >> KIND_SHIFT] : undefined,
      client: this.who[i],
      method: this.method[i],
      id: this.id[i],
      ms: Number.isNaN(ms) ? undefined : ms,
      code: Number.isNaN(code) ? undefined : code,
      bytes: message ? this.len[i] : undefined,
      text: this.text[i],
      payload: this.options.payloads ? this.payload[i] : undefined,
    };
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
}

/**
 * One client's part of the record (its `tap`): the client object its entries share (filled in
 * as the client says more: name, workspace, pid), and the two hooks. `received` takes a
 * message as the router parsed it; `sent` takes a line written to the client, with the
 * request it answers when the sender knows it.
 */
export class ClientRecord implements ClientTap {
  private readonly rec: Recorder;
  private readonly client: RecordedClient;
  private readonly entry: RecordClient;
  /** Requests recorded from their lines alone (`Recorder.inbound`): id text → what their answer needs. */
  private waiting: Map<string, Asked> | undefined;

  constructor(rec: Recorder, client: RecordedClient) {
    this.rec = rec;
    this.client = client;
    this.entry = {
      id: client.id,
      name: null,
      transport: client.transport,
      workspace: null,
      pid: client.hostPid ?? null,
    };
  }

  received(msg: Message, line: string | Uint8Array): Asked | undefined {
    const t = Date.now();
    switch (msg.kind) {
      case "request": {
        const method = msg.method.length > MAX_METHOD ? msg.method.slice(0, MAX_METHOD) : msg.method;
        if (method === "initialize" && this.entry.name === null) this.nameFrom(msg.params?.clientInfo);
        this.rec.message(t, IN_REQUEST, this.who(), method, shownId(msg.rawId), NaN, NaN, line.length, line);
        return { method, rawId: msg.rawId, at: t };
      }
      case "notification": {
        const method = msg.method.length > MAX_METHOD ? msg.method.slice(0, MAX_METHOD) : msg.method;
        this.rec.message(t, IN_NOTIFICATION, this.who(), method, undefined, NaN, NaN, line.length, line);
        return undefined;
      }
      case "response": {
        const id = msg.rawId === "null" ? undefined : shownId(msg.rawId);
        const code = msg.error !== undefined && Number.isInteger(msg.error.code) ? msg.error.code : NaN;
        const info = msg.error !== undefined ? IN_ERROR : IN_RESPONSE;
        this.rec.message(t, info, this.who(), undefined, id, NaN, code, line.length, line);
        return undefined;
      }
      case "batch":
        this.rec.message(t, IN_BATCH, this.who(), undefined, undefined, NaN, NaN, line.length, line);
        return undefined;
      default:
        // Not JSON, or not JSON-RPC: what its first bytes say.
        return this.line(line, false);
    }
  }

  sent(line: WireLine, kind: SendKind | string, asked: Asked | undefined): void {
    if (kind === "response") {
      if (asked !== undefined) {
        const t = Date.now();
        const outcome = typeof line === "string" ? answerOutcome(line, asked.rawId) : Number.NaN;
        if (!Number.isNaN(outcome)) {
          const info = outcome === RESULT ? OUT_RESPONSE : OUT_ERROR;
          const code = outcome === RESULT ? NaN : outcome;
          const id = shownId(asked.rawId);
          this.rec.message(t, info, this.who(), asked.method, id, t - asked.at, code, line.length, line);
          return;
        }
        const s = summarise(line, true);
        const info = DIR_OUT | (kindCode(s.kind) << KIND_SHIFT);
        const id = s.id ?? shownId(asked.rawId);
        this.rec.message(t, info, this.who(), asked.method, id, t - asked.at, s.code ?? NaN, s.bytes, line);
        return;
      }
      if (typeof line === "string" && line.charCodeAt(0) === 91 /* [ */) {
        this.rec.message(Date.now(), OUT_BATCH, this.who(), undefined, undefined, NaN, NaN, line.length, line);
        return;
      }
    } else if (kind !== "request" && typeof line === "string") {
      // Notifications (progress, log, signals): the method from a usual first member.
      const method = notificationMethod(line);
      if (method !== undefined) {
        this.rec.message(Date.now(), OUT_NOTIFICATION, this.who(), method, undefined, NaN, NaN, line.length, line);
        return;
      }
    }
    this.sentLine(line, kind === "response");
  }

  /**
   * A line from the client summarised from its bytes (nobody parsed it, or it is not
   * JSON-RPC); `wait`: its answer will be matched by id (the line API).
   */
  line(line: string | Uint8Array, wait: boolean): Asked | undefined {
    const t = Date.now();
    const s = summarise(line);
    if (s.method === "initialize" && typeof line === "string" && this.entry.name === null) {
      const name = /"clientInfo"\s*:\s*\{[^{}]{0,400}?"name"\s*:\s*"((?:[^"\\]|\\.){0,100})"/.exec(line.slice(0, 2048));
      if (name?.[1]) this.nameFrom({ name: jsonUnescape(name[1]) });
    }
    const info = DIR_IN | (kindCode(s.kind) << KIND_SHIFT);
    this.rec.message(t, info, this.who(), s.method, s.id, NaN, s.code ?? NaN, s.bytes, line);
    if (s.kind !== "request" || s.id === undefined || s.method === undefined) return undefined;
    const asked = { method: s.method, rawId: s.id, at: t };
    if (wait) {
      this.waiting ??= new Map();
      if (this.waiting.size >= MAX_WAITING) this.waiting.delete(this.waiting.keys().next().value as string);
      this.waiting.set(s.id, asked);
    }
    return asked;
  }

  // --- internal ---

  /** A line to the client summarised from its bytes; an answer is matched by id to a request seen as a line. */
  private sentLine(line: WireLine, answer: boolean): void {
    const t = Date.now();
    const s = summarise(line, answer);
    let ms = NaN;
    let method = s.method;
    if ((s.kind === "response" || s.kind === "error") && s.id !== undefined && this.waiting !== undefined) {
      const asked = this.waiting.get(s.id);
      if (asked) {
        this.waiting.delete(s.id);
        ms = t - asked.at;
        method = asked.method;
      }
    }
    const info = DIR_OUT | (kindCode(s.kind) << KIND_SHIFT);
    this.rec.message(t, info, this.who(), method, s.id, ms, s.code ?? NaN, s.bytes, line);
  }

  /** The host's name from an initialize's `clientInfo` (untrusted: a string, at most 100 characters). */
  private nameFrom(info: unknown): void {
    const name = typeof info === "object" && info !== null ? (info as { name?: unknown }).name : undefined;
    if (typeof name === "string" && name) this.entry.name = name.slice(0, 100);
  }

  /** The client its entries name, with what became known since (name, workspace, pid). */
  private who(): RecordClient {
    const c = this.entry;
    const client = this.client;
    if (c.name === null) this.nameFrom(client.clientInfo);
    if (c.workspace === null && client.workspace) c.workspace = client.workspace;
    if (c.pid === null && client.hostPid) c.pid = client.hostPid;
    return c;
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
const MAX_METHOD = 200;
/** Ids longer than this (hostile ones) are kept cut, with an ellipsis. */
const MAX_ID = 256;

function shownId(rawId: string): string {
  return rawId.length > MAX_ID ? `${rawId.slice(0, MAX_ID)}…` : rawId;
}

/** Slots a ring starts with (it doubles up to `maxEntries`). */
const MIN_SLOTS = 256;

// An entry's `info` byte: its type (bits 0-1), direction (bits 2-3) and kind (bits 4-6).
const TYPE_BITS = 3;
const TYPE_MESSAGE = 0;
const TYPE_STDERR = 1;
const TYPE_EVENT = 2;
const DIR_IN = 4;
const DIR_OUT = 8;
const KIND_SHIFT = 4;
const KINDS = [undefined, "request", "notification", "response", "error", "batch", "other"] as const;

function kindCode(kind: string): number {
  const i = KINDS.indexOf(kind as (typeof KINDS)[number]);
  return i > 0 ? i : 6;
}

const IN_REQUEST = DIR_IN | (1 << KIND_SHIFT);
const IN_NOTIFICATION = DIR_IN | (2 << KIND_SHIFT);
const IN_RESPONSE = DIR_IN | (3 << KIND_SHIFT);
const IN_ERROR = DIR_IN | (4 << KIND_SHIFT);
const IN_BATCH = DIR_IN | (5 << KIND_SHIFT);
const OUT_NOTIFICATION = DIR_OUT | (2 << KIND_SHIFT);
const OUT_RESPONSE = DIR_OUT | (3 << KIND_SHIFT);
const OUT_ERROR = DIR_OUT | (4 << KIND_SHIFT);
const OUT_BATCH = DIR_OUT | (5 << KIND_SHIFT);

/** {@link answerOutcome} of a success. */
const RESULT = Number.POSITIVE_INFINITY;
const ANSWER_HEAD = '{"jsonrpc":"2.0","id":';
const NOTIFICATION_HEAD = '{"jsonrpc":"2.0","method":"';
const METHOD_FIRST = '{"method":"';
const AFTER_ID_ERROR = ',"error":{"code":';
const ERROR_FIRST = '{"error":{"code":';

/**
 * Success or error of an answer to the request of `rawId`, from its first bytes when they are
 * a usual layout (the mux's own lines, the SDKs'): {@link RESULT}, an error's code, or NaN
 * for any other layout (then it is scanned).
 */
function answerOutcome(line: string, rawId: string): number {
  let at: number;
  if (line.startsWith(ANSWER_HEAD)) {
    if (!line.startsWith(rawId, ANSWER_HEAD.length)) return Number.NaN;
    at = ANSWER_HEAD.length + rawId.length;
    if (line.startsWith(',"result":', at)) return RESULT;
    if (!line.startsWith(AFTER_ID_ERROR, at)) return Number.NaN;
    at += AFTER_ID_ERROR.length;
  } else if (line.startsWith('{"result":')) return RESULT;
  else if (line.startsWith(ERROR_FIRST)) at = ERROR_FIRST.length;
  else return Number.NaN;
  // The code: an integer followed by `,` or `}`.
  let i = at;
  const negative = line.charCodeAt(i) === 45; /* - */
  if (negative) i++;
  const digits = i;
  let n = 0;
  for (; i < line.length && i - digits < 16; i++) {
    const c = line.charCodeAt(i);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  const next = line.charCodeAt(i);
  if (i === digits || (next !== 44 && next !== 125)) return Number.NaN;
  return negative ? -n : n;
}

/** The method of a notification whose first member is `method` (or `jsonrpc`, then `method`), unescaped; else undefined. */
function notificationMethod(line: string): string | undefined {
  const at = line.startsWith(NOTIFICATION_HEAD)
    ? NOTIFICATION_HEAD.length
    : line.startsWith(METHOD_FIRST)
      ? METHOD_FIRST.length
      : -1;
  if (at < 0) return undefined;
  const end = line.indexOf('"', at);
  if (end < 0 || end - at > MAX_METHOD) return undefined;
  const method = line.slice(at, end);
  return method.includes("\\") ? undefined : method;
}

function lengthOf(line: WireLine): number {
  if (typeof line === "string" || line instanceof Uint8Array) return line.length;
  let n = 0;
  for (const p of line) n += p.length;
  return n;
}

/** The first bytes of a line (across the parts of a spliced one: its id may be a part of its own). */
function headOf(line: WireLine): string {
  if (typeof line === "string") return line.slice(0, SCAN_BYTES);
  if (line instanceof Uint8Array) return DECODER.decode(line.subarray(0, SCAN_BYTES));
  let head = "";
  for (const part of line) {
    const room = SCAN_BYTES - head.length;
    if (room <= 0) break;
    head += typeof part === "string" ? part.slice(0, room) : DECODER.decode(part.subarray(0, room));
  }
  return head;
}

/** The last bytes of a line (across parts, like {@link headOf}). */
function tailOf(line: WireLine): string {
  if (typeof line === "string") return line.slice(-TAIL_BYTES);
  if (line instanceof Uint8Array) return DECODER.decode(line.subarray(Math.max(0, line.length - TAIL_BYTES)));
  let tail = "";
  for (let k = line.length - 1; k >= 0 && tail.length < TAIL_BYTES; k--) {
    const part = line[k] as string | Uint8Array;
    const room = TAIL_BYTES - tail.length;
    tail =
      (typeof part === "string" ? part.slice(-room) : DECODER.decode(part.subarray(Math.max(0, part.length - room)))) +
      tail;
  }
  return tail;
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
