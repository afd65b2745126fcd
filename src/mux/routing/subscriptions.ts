/**
 * Resource subscriptions shared by clients: one subscription at the child per URI whatever
 * the number of subscribed clients; later subscribers wait for the first subscribe's answer;
 * the last client to leave unsubscribes; a new child gets them all again.
 * @module
 */

import type { JsonObject, RequestMessage, ResponseMessage } from "../../protocol/message.ts";
import { errorLine, type RpcErrorBody, RpcErrorCode, resultLine } from "../../protocol/rpc-error.ts";
import { splice } from "../../protocol/scan.ts";
import type { MuxClient } from "../client.ts";
import type { ChildState, Pending, Reply } from "./types.ts";

/** What this unit needs of the router. */
export interface SubscriptionsHost {
  readonly state: ChildState;
  submit(client: MuxClient, msg: RequestMessage, reply: Reply, run?: () => void): void;
  forward(client: MuxClient, msg: RequestMessage, reply: Reply, onResponse?: Pending["onResponse"]): Pending;
  request(method: string, params: JsonObject | undefined, onResponse: (msg: ResponseMessage) => void): void;
  /** A modern child has no `resources/subscribe`: the mux's own requests stand for the clients' (its listen). */
  readonly childEra: "legacy" | "modern" | undefined;
}

/** The subscriptions of one child. */
export class Subscriptions {
  private readonly byUri = new Map<string, Subscription>();

  constructor(private readonly host: SubscriptionsHost) {}

  /** Subscribed URIs (tests, status). */
  get uris(): string[] {
    return [...this.byUri.keys()];
  }

  /** A client's `resources/subscribe` of `uri`. */
  subscribe(client: MuxClient, msg: RequestMessage, uri: string, reply: Reply): void {
    const existing = this.byUri.get(uri);
    if (existing) {
      client.subscriptions.add(uri);
      existing.clients.add(client);
      if (existing.confirmed) return reply(resultLine(msg.rawId, {}));
      existing.waiters.push((error) =>
        reply(error ? errorLine(msg.rawId, error.code, error.message, error.data) : resultLine(msg.rawId, {})),
      );
      return;
    }
    const sub: Subscription = { clients: new Set([client]), confirmed: false, waiters: [] };
    this.byUri.set(uri, sub);
    client.subscriptions.add(uri);
    const send = (onResponse: (res: ResponseMessage) => void): void => {
      if (this.host.childEra === "modern") this.host.request("resources/subscribe", { uri }, onResponse);
      else this.host.forward(client, msg, reply, onResponse);
    };
    this.host.submit(client, msg, reply, () =>
      send((res) => {
        const waiters = sub.waiters;
        sub.waiters = [];
        if (res.error) {
          for (const member of sub.clients) member.subscriptions.delete(uri);
          if (this.byUri.get(uri) === sub) this.byUri.delete(uri);
          reply(errorLine(msg.rawId, res.error.code, res.error.message, res.error.data));
          for (const w of waiters) w(res.error);
          return;
        }
        sub.confirmed = true;
        reply(res.idSpan ? splice(res.text, res.idSpan, msg.rawId) : resultLine(msg.rawId, {}));
        for (const w of waiters) w();
      }),
    );
  }

  /** A client's `resources/unsubscribe` of `uri`: forwarded only when it was the last one. */
  unsubscribe(client: MuxClient, msg: RequestMessage, uri: string, reply: Reply): void {
    const sub = this.byUri.get(uri);
    if (!client.subscriptions.delete(uri) || !sub) return reply(resultLine(msg.rawId, {}));
    sub.clients.delete(client);
    if (sub.clients.size > 0 || !sub.confirmed) {
      if (sub.clients.size === 0) this.byUri.delete(uri);
      return reply(resultLine(msg.rawId, {}));
    }
    this.byUri.delete(uri);
    if (this.host.childEra === "modern")
      return this.host.submit(client, msg, reply, () =>
        this.host.request("resources/unsubscribe", { uri }, () => reply(resultLine(msg.rawId, {}))),
      );
    this.host.submit(client, msg, reply);
  }

  /** The clients a `resources/updated` of `uri` goes to (exact or prefix; else every subscriber). */
  targets(uri: string, clients: Iterable<MuxClient>): MuxClient[] {
    const all = [...clients];
    const exact = all.filter((s) => [...s.subscriptions].some((sub) => uri === sub || uri.startsWith(sub)));
    return exact.length > 0 ? exact : all.filter((s) => s.subscriptions.size > 0);
  }

  /** A client left: unsubscribe at the child what only it held. */
  dropClient(client: MuxClient): void {
    for (const uri of client.subscriptions) {
      const sub = this.byUri.get(uri);
      if (!sub) continue;
      sub.clients.delete(client);
      if (sub.clients.size > 0) continue;
      this.byUri.delete(uri);
      if (sub.confirmed && this.host.state === "ready") this.host.request("resources/unsubscribe", { uri }, () => {});
    }
    client.subscriptions.clear();
  }

  /** The child is gone: nothing is confirmed; waiting subscribers get the exit. */
  childGone(): void {
    for (const sub of this.byUri.values()) {
      sub.confirmed = false;
      for (const w of sub.waiters) w({ code: RpcErrorCode.ServerExited, message: "MCP server exited" });
      sub.waiters = [];
    }
  }

  /** A new child is ready: subscribe it to every URI again. */
  resubscribe(): void {
    for (const [uri, sub] of this.byUri) {
      this.host.request("resources/subscribe", { uri }, (msg) => {
        sub.confirmed = !msg.error;
      });
    }
  }
}

// --- internal ---

/** Clients subscribed to one URI; `waiters` are later subscribers waiting for the first subscribe. */
interface Subscription {
  clients: Set<MuxClient>;
  confirmed: boolean;
  waiters: ((error?: RpcErrorBody) => void)[];
}
