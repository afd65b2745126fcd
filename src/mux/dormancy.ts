/**
 * Dormancy: when an idle child may be stopped (`dormant_after_ms`) while its clients stay
 * connected. Nothing that depends on the live process may be lost: a request at the child
 * (a `subscriptions/listen` included), a held request, a resource subscription, a task, a
 * server→client request or URL elicitation not answered yet; nor a server the config marks as
 * keeping state in memory (`keeps_state`). The engine asks this after every
 * change and arms its timer only while it says nothing.
 * @module
 */

import { muxListenOpen, tasksOpen } from "./era2026/modern-child.ts";
import type { Router } from "./router.ts";

/** Why the child must stay up now, or undefined when it may go dormant. */
export function dormancyBlocker(r: Router, keepsState = false): string | undefined {
  if (r.state !== "ready") return `it is ${r.state}`;
  if (r.closing) return "the service is closing";
  if (keepsState) return "the config marks the server as keeping state in memory (keeps_state)";
  // The mux's own listen on a modern child is not a request of anyone's: it does not keep it awake.
  if (r.pending.size > (muxListenOpen(r) ? 1 : 0)) return "a request is at the server";
  if (r.slots.queued > 0) return "a request is held";
  if (r.subscriptions.uris.length > 0) return "a client is subscribed to a resource";
  if (r.tasks.size > 0 || tasksOpen(r)) return "a task is open";
  if (r.serverRequests.size > 0) return "a server→client request is open";
  return undefined;
}
