/**
 * The tray icon's images, drawn here: a filled disc in the colour of the daemon's state on a
 * transparent square, as PNG (Linux, macOS) or as an ICO wrapping that PNG (Windows).
 * @module
 */

import { deflateSync } from "node:zlib";
import { concatBytes } from "../protocol/bytes.ts";

/** What the icon tells at a glance. */
export type TrayLevel = "ok" | "busy" | "failed" | "stopped";

const COLORS: Record<TrayLevel, [number, number, number]> = {
  ok: [0x2e, 0xa0, 0x43], // green: every service ready (or waiting for its first client)
  busy: [0xe0, 0xa1, 0x00], // amber: starting, initializing or restarting
  failed: [0xd7, 0x3a, 0x49], // red: a service failed
  stopped: [0x8a, 0x8a, 0x8a], // grey: nothing runs
};

/** The icon for `level`, base64 encoded as the helper wants it, for `platform`. */
export function trayIcon(level: TrayLevel, platform: string = process.platform): string {
  const png = discPng(COLORS[level], 32);
  return Buffer.from(platform === "win32" ? icoOf(png, 32) : png).toString("base64");
}

/** A `size`×`size` RGBA PNG of an anti-aliased disc with a darker rim. */
export function discPng([r, g, b]: [number, number, number], size: number): Uint8Array {
  const rows: number[] = [];
  const c = (size - 1) / 2;
  const radius = size / 2 - 1.5;
  for (let y = 0; y < size; y++) {
    rows.push(0); // filter: none
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - c, y - c);
      const alpha = Math.max(0, Math.min(1, radius + 0.5 - d));
      const rim = d > radius - 2 ? 0.75 : 1;
      rows.push(Math.round(r * rim), Math.round(g * rim), Math.round(b * rim), Math.round(alpha * 255));
    }
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, size);
  view.setUint32(4, size);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, no interlace
  return concatBytes([
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Uint8Array.from(rows))),
    chunk("IEND", new Uint8Array(0)),
  ]);
}

// --- internal ---

/** An ICO file with one PNG image (Windows Vista and later read PNG entries). */
function icoOf(png: Uint8Array, size: number): Uint8Array {
  const head = new Uint8Array(22);
  const v = new DataView(head.buffer);
  v.setUint16(2, 1, true); // type: icon
  v.setUint16(4, 1, true); // one image
  head[6] = size;
  head[7] = size;
  v.setUint16(10, 1, true); // planes
  v.setUint16(12, 32, true); // bits per pixel
  v.setUint32(14, png.length, true);
  v.setUint32(18, 22, true); // offset of the image
  return concatBytes([head, png]);
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
