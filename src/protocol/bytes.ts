/**
 * Byte helpers shared by the line splitter, the proxy's line watcher, the HTTP event store and
 * the tray icon encoder.
 * @module
 */

/** The parts joined into one array; one part is returned as it is (no copy). */
export function concatBytes(parts: readonly Uint8Array[], total?: number): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  const out = new Uint8Array(total ?? parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The last `edge` bytes of `prev` followed by `next` (a copy; what a big line ends with). */
export function lastBytes(prev: Uint8Array, next: Uint8Array, edge: number): Uint8Array {
  if (next.length >= edge) return next.slice(next.length - edge);
  const keep = Math.min(prev.length, edge - next.length);
  const out = new Uint8Array(keep + next.length);
  out.set(prev.subarray(prev.length - keep), 0);
  out.set(next, keep);
  return out;
}
