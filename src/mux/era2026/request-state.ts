/**
 * The `requestState` the mux mints for an `input_required` round (protocol-2026 §1.4, §3.2
 * step 5): an HMAC-SHA256-sealed handle naming one parked call, bound to its owner (a socket
 * connection, or the HTTP front's principal), the request (method + a digest of its name, URI
 * and arguments), the round and an expiry. The key is random per daemon and never leaves
 * memory, so a state outlives neither the daemon nor its round. The client sees an opaque
 * string and must echo it byte for byte; anything else is refused before the child sees it.
 * @module
 */

import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { isObject } from "../../protocol/message.ts";

/** What a state names and is bound to. */
export interface StateClaims {
  /** The parked call's handle (random, unguessable). */
  id: string;
  /** Who may resume it (`ownerOf` of the client it was given to). */
  owner: string;
  /** The originating method (`tools/call`, `prompts/get`, `resources/read`). */
  method: string;
  /** `requestDigest` of the originating request's params. */
  digest: string;
  /** The round it was given in (1 for the first `input_required`). */
  round: number;
  /** Epoch milliseconds after which it is refused. */
  expiresAt: number;
}

/** Why a state is refused. */
export type StateRefusal = "malformed" | "tampered" | "expired" | "foreign-owner" | "wrong-request";

/** Seals and opens request states with one key (a random one unless given: tests pass their own). */
export class StateSeal {
  private readonly key: Uint8Array;

  constructor(key?: Uint8Array) {
    this.key = key ?? randomBytes(32);
  }

  /** The opaque state for these claims: `<base64url payload>.<base64url HMAC-SHA256 of it>`. */
  seal(c: StateClaims): string {
    const payload = Buffer.from(
      JSON.stringify([VERSION, c.id, ownerTag(c.owner), c.method, c.digest, c.round, c.expiresAt]),
    ).toString("base64url");
    return `${payload}.${this.mac(payload)}`;
  }

  /**
   * Open a state a client sent back: its claims when the seal holds, it has not expired and it
   * was given to `expect.owner` for the same method and request digest; else why not.
   */
  open(
    token: unknown,
    expect: { owner: string; method: string; digest: string },
    now: number = Date.now(),
  ): { ok: true; claims: StateClaims } | { ok: false; reason: StateRefusal } {
    if (typeof token !== "string" || token.length > MAX_STATE_CHARS) return { ok: false, reason: "malformed" };
    const dot = token.indexOf(".");
    if (dot <= 0 || dot !== token.lastIndexOf(".")) return { ok: false, reason: "malformed" };
    const payload = token.slice(0, dot);
    const given = token.slice(dot + 1);
    const want = this.mac(payload);
    // Compared as text of the same alphabet and length: a tampered or re-encoded seal fails here.
    if (given.length !== want.length || !timingSafeEqual(Buffer.from(given), Buffer.from(want)))
      return { ok: false, reason: "tampered" };
    let fields: unknown;
    try {
      fields = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch {
      return { ok: false, reason: "malformed" };
    }
    if (!Array.isArray(fields) || fields.length !== 7 || fields[0] !== VERSION)
      return { ok: false, reason: "malformed" };
    const [, id, owner, method, digest, round, expiresAt] = fields;
    if (
      typeof id !== "string" ||
      typeof owner !== "string" ||
      typeof method !== "string" ||
      typeof digest !== "string" ||
      !Number.isSafeInteger(round) ||
      !Number.isSafeInteger(expiresAt)
    )
      return { ok: false, reason: "malformed" };
    if (now >= expiresAt) return { ok: false, reason: "expired" };
    if (owner !== ownerTag(expect.owner)) return { ok: false, reason: "foreign-owner" };
    if (method !== expect.method || digest !== expect.digest) return { ok: false, reason: "wrong-request" };
    return { ok: true, claims: { id, owner: expect.owner, method, digest, round, expiresAt } };
  }

  private mac(payload: string): string {
    return createHmac("sha256", this.key).update(payload).digest("base64url");
  }
}

/** The seal of this daemon (its key is made at start and never persisted). */
export const DAEMON_SEAL = new StateSeal();

/**
 * The digest a state binds a request by: SHA-256 over the canonical JSON (keys sorted) of the
 * members that say what is asked (`name`, `uri`, `arguments`), not of the envelope or the answers.
 */
export function requestDigest(params: Record<string, unknown> | undefined): string {
  const p = params ?? {};
  let key: string;
  try {
    key = canonical([p.name ?? null, p.uri ?? null, p.arguments ?? null], 0);
  } catch {
    key = "unreadable"; // nested past any sane depth: such a request binds by owner, method and round only
  }
  return createHash("sha256").update(key).digest("base64url");
}

// --- internal ---

const VERSION = 1;

/** Longer states are not ours (ours are a few hundred characters). */
const MAX_STATE_CHARS = 4096;

/** The owner as the state carries it: a digest, so the payload does not tell who holds it. */
function ownerTag(owner: string): string {
  return createHash("sha256").update(owner).digest("base64url").slice(0, 22);
}

function canonical(v: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new Error("too deep");
  if (Array.isArray(v)) return `[${v.map((x) => canonical(x, depth + 1)).join(",")}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k], depth + 1)}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

const MAX_DEPTH = 256;
