/**
 * A POST body: read as bytes (up to the limit, within the body timeout, ended at once when
 * descriptors run short) and parsed once: as text when small, as bytes over the byte-path
 * threshold (never decoded whole, like a socket's big line); a batch into its elements.
 * @module
 */

import { BIG_MESSAGE_BYTES, type Message, parseMessage, parseMessageBytes } from "../protocol/message.ts";
import { type Span, scanArray } from "../protocol/scan.ts";
import { claimsModern } from "../protocol/versions.ts";

/** One message of a POST body: parsed once, with what the front routes it by. */
export interface Incoming {
  /** Its text, or its bytes when the body was big (for the record; the message itself is `msg`). */
  line: string | Uint8Array;
  msg: Message;
  method?: string;
  key?: string;
  rawId?: string;
  /** The protocol version an initialize asks for. */
  version?: unknown;
  /** The request's `params._meta` claims a modern era (2026-07-28). */
  modern?: boolean;
  /** Its params, when an object (for the 2026-07-28 header checks). */
  params?: Record<string, unknown>;
}

/**
 * Parse a body once: as text when small, as bytes when over the byte-path threshold (never
 * decoded whole, like a socket's big line); a batch into its elements. Undefined when it is not JSON.
 */
export function parseBody(body: Uint8Array): Incoming[] | undefined {
  const start = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0; // a BOM, as TextDecoder drops it
  const bytes = start > 0 ? body.subarray(start) : body;
  const big = bytes.length >= BIG_MESSAGE_BYTES;
  const line = big ? bytes : decoder.decode(bytes);
  const msg = typeof line === "string" ? parseMessage(line) : parseMessageBytes(line);
  if (msg.kind === "parse-error") return undefined;
  if (msg.kind !== "batch") return [incoming(line, msg)];
  let spans: Span[] | undefined;
  return msg.items.map((item, i) => {
    if (item.kind === "request" || item.kind === "notification" || item.kind === "response")
      return incoming(item.text, item);
    spans ??= scanArray(msg.text) ?? [];
    const span = spans[i];
    return incoming(span ? msg.text.slice(span[0], span[1]) : "", item);
  });
}

/**
 * Read a body's bytes (never decoded here) up to `limit` within `timeoutMs`: undefined when it is bigger, "slow" when
 * late, "shed" when ended through `arriving` (descriptors ran short).
 */
export async function readBody(
  req: Request,
  limit: number,
  timeoutMs: number,
  arriving: Set<() => void>,
): Promise<Uint8Array | undefined | "slow" | "shed"> {
  const declared = Number(req.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) return undefined;
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stop: (() => void) | undefined;
  const late = new Promise<"slow" | "shed">((resolve) => {
    timer = setTimeout(() => resolve("slow"), timeoutMs);
    stop = () => resolve("shed");
    arriving.add(stop);
  });
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), late]);
      if (next === "slow" || next === "shed") {
        reader.cancel().catch(() => {});
        return next;
      }
      if (next.done) break;
      size += next.value.length;
      if (size > limit) {
        reader.cancel().catch(() => {});
        return undefined;
      }
      parts.push(next.value);
    }
  } catch {
    return "slow";
  } finally {
    clearTimeout(timer);
    if (stop) arriving.delete(stop);
  }
  return parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
}

// --- internal ---

const decoder = new TextDecoder();

/** One parsed message with what the front routes it by. */
function incoming(line: string | Uint8Array, msg: Message): Incoming {
  if (msg.kind !== "request" && msg.kind !== "notification") return { line, msg };
  const params = msg.params ?? {};
  return {
    line,
    msg,
    method: msg.method,
    rawId: msg.kind === "request" ? msg.rawId : undefined,
    key: msg.kind === "request" ? msg.key : undefined,
    version: msg.method === "initialize" ? params.protocolVersion : undefined,
    modern: claimsModern(params),
    params,
  };
}
