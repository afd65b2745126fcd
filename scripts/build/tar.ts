/**
 * A reproducible .tar.gz writer: ustar entries (files, folders, symbolic links) in the given order, fixed owner (0/0), fixed
 * modification time, no gzip timestamp. The same files always give the same bytes, whatever
 * machine or `tar` builds them.
 */

/** One entry of the archive. */
export interface TarEntry {
  /** Path inside the archive (folders end with `/`). */
  name: string;
  /** File contents (none for a folder or a link). */
  data?: Uint8Array;
  /** A symbolic link to this (relative) target instead of a file. */
  link?: string;
  mode: number;
}

/** Build a gzip-compressed ustar archive. `mtime` is in seconds since the epoch. */
export function tarGz(entries: TarEntry[], mtime: number): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    blocks.push(header(e, data.length, mtime));
    if (data.length > 0) {
      blocks.push(data);
      const pad = (512 - (data.length % 512)) % 512;
      if (pad > 0) blocks.push(new Uint8Array(pad));
    }
  }
  blocks.push(new Uint8Array(1024));
  const total = blocks.reduce((n, b) => n + b.length, 0);
  const tar = new Uint8Array(total);
  let at = 0;
  for (const b of blocks) {
    tar.set(b, at);
    at += b.length;
  }
  return Bun.gzipSync(tar, { level: 9 });
}

// --- internal ---

function header(entry: TarEntry, size: number, mtime: number): Uint8Array {
  const h = new Uint8Array(512);
  const enc = new TextEncoder();
  const put = (text: string, offset: number, length: number): void => {
    const bytes = enc.encode(text);
    if (bytes.length > length) throw new Error(`tar: "${text}" does not fit in ${length} bytes`);
    h.set(bytes, offset);
  };
  const octal = (n: number, length: number): string => `${n.toString(8).padStart(length - 1, "0")}\0`;
  const dir = entry.name.endsWith("/");
  const link = entry.link;
  let name = entry.name;
  let prefix = "";
  if (enc.encode(name).length > 100) {
    const cut = name.lastIndexOf("/", name.length - 2);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
  }
  put(name, 0, 100);
  put(octal(entry.mode & 0o7777, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(dir || link !== undefined ? 0 : size, 12), 124, 12);
  put(octal(mtime, 12), 136, 12);
  put("        ", 148, 8);
  put(dir ? "5" : link !== undefined ? "2" : "0", 156, 1);
  if (link !== undefined) put(link, 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  put("root", 265, 32);
  put("root", 297, 32);
  put(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  return h;
}
