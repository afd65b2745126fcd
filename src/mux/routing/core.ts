/**
 * `RoutingCore`: the small interface the per-method rules (`rules.ts`) and the child-line
 * handling are written against. The router implements it; each kind of state is a unit with
 * its own operations (pending, progress, subscriptions, tasks, server→client requests), so no
 * rule writes into another unit's maps.
 * @module
 */

import type { JsonObject, RequestMessage, ResponseMessage } from "../../protocol/message.ts";
import type { MuxClient, SendKind } from "../client.ts";
import type { MuxLogger } from "../logger.ts";
import type { PendingRequests } from "./pending.ts";
import type { ProgressTokens } from "./progress.ts";
import type { ServerRequests } from "./server-requests.ts";
import type { Subscriptions } from "./subscriptions.ts";
import type { TaskOwners } from "./tasks.ts";
import type { ChildState, Pending, Reply, RouterHost, RouterOptions } from "./types.ts";

/** The routing core as rules see it. */
export interface RoutingCore {
  readonly state: ChildState;
  /** The mux is shutting down: requests are refused. */
  readonly closing: boolean;
  readonly clients: ReadonlySet<MuxClient>;
  readonly options: RouterOptions;
  readonly host: RouterHost;
  readonly logger: MuxLogger;
  /** The child's cached initialize result. */
  readonly initResult: JsonObject | undefined;
  /** The child's era once known (`modern`: it answers `server/discover`, never initialize). */
  readonly childEra: "legacy" | "modern" | undefined;
  /** A modern child's cached `DiscoverResult`. */
  readonly discovered: JsonObject | undefined;
  /** The client capabilities declared to the child (undefined before its first initialize). */
  readonly declaredCapabilities: JsonObject | undefined;
  /** The child's list results by method (answered from while the child is dormant). */
  readonly cachedLists: Map<string, JsonObject>;
  /** A cached list page still fresh by its own caching hint (`ttlMs`, a 2026-07-28 child's), if any. */
  freshList(method: string): JsonObject | undefined;
  readonly pending: PendingRequests;
  readonly progress: ProgressTokens;
  readonly subscriptions: Subscriptions;
  readonly tasks: TaskOwners;
  readonly serverRequests: ServerRequests;

  /** A client's initialize arrived before the child was ready: answer it once it is. */
  waitInitialize(client: MuxClient, msg: RequestMessage, reply: Reply): void;
  /** The generic path of a client request: duplicate check, hold until ready and admitted, forward (or `run`). */
  submit(client: MuxClient, msg: RequestMessage, reply: Reply, run?: () => void): void;
  /** Send a client request to the child now, with a mux id (and a mux progress token). */
  forward(client: MuxClient, msg: RequestMessage, reply: Reply, onResponse?: Pending["onResponse"]): Pending;
  /** A request of the mux itself to the child (its mux id; 0 when the mux answered it itself). */
  request(method: string, params: JsonObject | undefined, onResponse: (msg: ResponseMessage) => void): number;
  /** A held (not yet forwarded) request was cancelled by its client: forget it, answer nothing. */
  cancelHeld(client: MuxClient, key: string): void;
  /** Forget a pending entry without answering it (cancel, disconnect). */
  dropPending(p: Pending): void;
  /** Tell the child to stop working on a request. */
  cancelAtChild(muxId: number, reason: string): void;
  /** Recompute the level the child should log at, and tell it when that changes. */
  applyLogLevel(): void;
  /** Send the child `notifications/roots/list_changed` (debounced). */
  rootsChanged(): void;
  /** The error for a request to a failed service. */
  failedError(rawId: string): string;
  /** Send a line to every operational client. */
  broadcast(line: string, kind?: SendKind): void;
  /** A client's request left the child (`counted` against the request limit): held requests may go. */
  released(client: MuxClient, counted: boolean | undefined): void;
  /** Something of the client's was answered or released: close an ending client, wake its reader. */
  settled(client: MuxClient): void;
}
