/**
 * The checks every request to the HTTP front (and its dashboard) passes first: `Host` and
 * `Origin` (DNS rebinding, cross-site pages) and the bearer token.
 * @module
 */

import { timingSafeEqual } from "node:crypto";

/**
 * The 4xx answer for a request that fails the Host/Origin or token checks. An `Origin` must
 * name an allowed host on this front's own port (a page on another local port is another
 * site), or be listed whole in `allowed` (`http://localhost:6274`); `Origin: null` (sandboxed
 * frames, files) is refused.
 */
export function checkRequest(
  req: Request,
  allowed: Set<string>,
  token: string | undefined,
  fixedPort: number | undefined,
  boundPort: number | undefined,
): Response | undefined {
  const rawHost = req.headers.get("host");
  if (!rawHost || !HOST_HEADER.test(rawHost.trim())) return text(400, "Bad Request: missing or unreadable Host header");
  const host = hostOf(rawHost);
  if (!allowed.has(host)) return text(403, "Forbidden: Host not allowed (DNS rebinding protection)");
  const origin = req.headers.get("origin");
  if (origin !== null) {
    if (origin === "null") return text(403, "Forbidden: Origin null is not allowed");
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return text(403, "Forbidden: unreadable Origin");
    }
    const name = url.hostname.toLowerCase();
    const ourPort = fixedPort ?? boundPort;
    const originPort = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    const listed = allowed.has(url.origin.toLowerCase());
    const sameSite = (allowed.has(name) || allowed.has(`[${name}]`)) && originPort === ourPort;
    if (!listed && !sameSite) return text(403, "Forbidden: Origin not allowed (DNS rebinding protection)");
  }
  if (token) {
    const given = /^Bearer\s+(.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1]?.trim() ?? "";
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    if (a.length !== b.length || !timingSafeEqual(a, b))
      return text(401, "Unauthorized: a valid bearer token is required", {
        "www-authenticate": 'Bearer realm="mcp-mux"',
      });
  }
  return undefined;
}

/** The host name of a Host header (`localhost:8080` → `localhost`, `[::1]:80` → `[::1]`). */
function hostOf(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(0, h.indexOf("]") + 1);
  return h.replace(/:\d+$/, "");
}

/** `Host` header syntax: a name or an IPv4 address, or a bracketed IPv6 address, with an optional port. */
const HOST_HEADER = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?$/;

/** True for loopback addresses and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** A plain-text answer. */
export function text(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(message, { status, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}
