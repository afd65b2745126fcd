/**
 * The child-capabilities policy: which client capabilities the child is told about
 * (`auto`: what the first client to need the child declared; `all`; or a fixed list).
 * @module
 */

import { isObject, type JsonObject } from "../protocol/message.ts";

/** Client capabilities the mux can route to a client that declared them. */
export const ROUTABLE_CAPABILITIES = ["sampling", "elicitation", "roots"] as const;

/** One routable capability. */
export type RoutableCapability = (typeof ROUTABLE_CAPABILITIES)[number];

/** What the child is told the client side can do: `auto`, `all`, or a fixed list. */
export type ChildCapabilities = "auto" | "all" | RoutableCapability[];

/** The client capabilities declared to the child under `policy`. */
export function childCapabilities(
  policy: ChildCapabilities,
  rootsPolicy: string,
  declared: JsonObject | undefined,
): JsonObject {
  const out: JsonObject = {};
  const offer = (name: RoutableCapability): boolean =>
    policy === "all" || (policy === "auto" ? isObject(declared?.[name]) : policy.includes(name));
  if (offer("sampling")) out.sampling = policy === "auto" ? (declared?.sampling as JsonObject) : {};
  if (offer("elicitation")) {
    const d = declared?.elicitation;
    // An empty elicitation object is the older spelling of form-only.
    if (policy !== "auto" || !isObject(d)) out.elicitation = { form: {}, url: {} };
    else out.elicitation = Object.keys(d).length > 0 ? d : { form: {} };
  }
  if (offer("roots") && rootsPolicy !== "none") out.roots = { listChanged: true };
  return out;
}
