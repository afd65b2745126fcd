/**
 * Give memory back after a big message. A message of many MiB leaves buffers that the
 * garbage collector, which counts them as small objects, would reclaim only much later; one
 * collection right after the message is written keeps the daemon's footprint flat from one
 * big message to the next (measured: 50 MiB round trips no longer add up).
 * @module
 */

/** Messages at least this big trigger a collection once written. */
export const RELEASE_AFTER_BYTES = 4 * 1_048_576;

/** Schedule one collection soon (several big messages in a row share it). */
export function releaseBigMessage(): void {
  if (scheduled) return;
  scheduled = true;
  setTimeout(() => {
    scheduled = false;
    Bun.gc(true);
  }, 0);
}

// --- internal ---

let scheduled = false;
