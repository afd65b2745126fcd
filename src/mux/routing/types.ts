/**
 * The routing core's shared types: child state, the engine seam (`RouterHost`), settings,
 * replies and pending requests. Types only; every routing unit imports these, none of them
 * imports a unit.
 * @module
 */

import type { ResponseMessage, WireLine } from "../../protocol/message.ts";
import type { Span } from "../../protocol/scan.ts";
import type { ChildCapabilities } from "../capabilities.ts";
import type { MuxClient } from "../client.ts";
import type { MuxLogger } from "../logger.ts";
import type { RootsPolicy } from "../roots.ts";

/**
 * Lifecycle state of a child, as reported in status (`waiting`: up, initialized at the first
 * client; `dormant`: stopped while idle, woken by the next request; `waking`: a dormant child
 * starting again, requests held).
 */
export type ChildState =
  | "lazy"
  | "dormant"
  | "waking"
  | "starting"
  | "waiting"
  | "initializing"
  | "ready"
  | "restarting"
  | "failed"
  | "stopped";

/** Which MCP era a child speaks: `legacy` (initialize), `modern` (2026-07-28), `auto` (probed). */
export type ChildEra = "legacy" | "auto" | "modern";

/** Policy for a server→client request when several clients could have caused it. */
export type AmbiguousRoute = "error" | "most-recent";

/** What the router needs from its engine (tests give it a fake child). */
export interface RouterHost {
  writeChild(line: WireLine): boolean;
  /** Start the child if it is not running (lazy start). */
  ensureChild(): void;
  /** The child answered initialize with an error or not at all: restart it. */
  childUnusable(reason: string): void;
  /** Something visible in status changed. */
  changed(): void;
  /** The status snapshot, for `mcp-mux/status`. */
  status(): unknown;
}

/** Router settings. */
export interface RouterOptions {
  requestTimeoutMs: number;
  maxActiveClients: number;
  /** Client requests at the child at once (0: no limit). */
  maxConcurrentRequests: number;
  rootsPolicy: RootsPolicy;
  ambiguousRoute: AmbiguousRoute;
  childCapabilities: ChildCapabilities;
  /** Which era the child speaks (`auto`: probed with `server/discover`, else `initialize`). */
  era: ChildEra;
  clientInfo: { name: string; version: string };
  logger: MuxLogger;
}

/** Where an answer to one client request goes (the client, or a batch being collected). */
export type Reply = (line: WireLine) => void;

/** A request the mux sent to the child and is waiting on. */
export interface Pending {
  muxId: number;
  method: string;
  /** Null for the mux's own requests. */
  client: MuxClient | null;
  rawId: string;
  key: string;
  reply: Reply;
  progressToken?: number;
  /** `performance.now()` time at which the request times out (none for long-lived requests). */
  deadline?: number;
  /** Custom handling of the child's answer (the default splices the client's id back). */
  onResponse?: (msg: ResponseMessage) => void;
  /**
   * Tried first on a success answer, as text (never parsed): true when it took the answer.
   * Whoever replaces `onResponse` clears it.
   */
  onText?: (text: string, idSpan: Span) => boolean;
  /** It counts against `maxConcurrentRequests`. */
  counted?: boolean;
}
