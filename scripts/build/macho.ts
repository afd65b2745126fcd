/**
 * Mach-O code signatures, checked on Linux: macOS kills an executable whose code pages do not
 * match the hashes in its CodeDirectory. `checkSignature` verifies every page of every
 * CodeDirectory; `signAdHoc` replaces a broken signature with a fresh ad-hoc one (what
 * `codesign -s - -f` does), inside the space the executable already reserves for it.
 */

import { createHash } from "node:crypto";

/** The result of checking one executable. */
export interface SignatureCheck {
  ok: boolean;
  /** One line per problem (empty when ok). */
  problems: string[];
  /** Code directories found, with their hash type and page count. */
  directories: { hashType: string; pages: number; flags: number; identifier: string }[];
}

/** True for a 64-bit little-endian Mach-O file. */
export function isMachO(bytes: Uint8Array): boolean {
  return bytes.length > 32 && dv(bytes).getUint32(0, true) === MH_MAGIC_64;
}

/** Verify the page hashes of every CodeDirectory of a thin 64-bit Mach-O. */
export function checkSignature(bytes: Uint8Array): SignatureCheck {
  const problems: string[] = [];
  const directories: SignatureCheck["directories"] = [];
  const layout = readLayout(bytes);
  if (!layout.signature) return { ok: false, problems: ["no LC_CODE_SIGNATURE load command"], directories };
  const { dataoff, datasize } = layout.signature;
  if (layout.linkedit && dataoff + datasize > layout.linkedit.fileoff + layout.linkedit.filesize)
    problems.push("the signature runs past the end of __LINKEDIT");
  if (dataoff + datasize > bytes.length)
    return { ok: false, problems: ["the signature runs past the end of the file"], directories };
  const view = dv(bytes);
  const magic = view.getUint32(dataoff, false);
  if (magic !== CSMAGIC_EMBEDDED_SIGNATURE) return { ok: false, problems: ["no embedded signature blob"], directories };
  const count = view.getUint32(dataoff + 8, false);
  for (let i = 0; i < count; i++) {
    const type = view.getUint32(dataoff + 12 + i * 8, false);
    const offset = view.getUint32(dataoff + 16 + i * 8, false);
    if (type !== CSSLOT_CODEDIRECTORY && (type < CSSLOT_ALTERNATE || type >= CSSLOT_ALTERNATE + 5)) continue;
    const cd = dataoff + offset;
    if (cd + 44 > dataoff + datasize || view.getUint32(cd, false) !== CSMAGIC_CODEDIRECTORY) {
      problems.push(`slot ${type}: not a CodeDirectory`);
      continue;
    }
    const flags = view.getUint32(cd + 12, false);
    const hashOffset = view.getUint32(cd + 16, false);
    const identOffset = view.getUint32(cd + 20, false);
    const nCodeSlots = view.getUint32(cd + 28, false);
    const codeLimit = view.getUint32(cd + 32, false);
    const hashSize = bytes[cd + 36] as number;
    const hashType = bytes[cd + 37] as number;
    const pageSize = 2 ** (bytes[cd + 39] as number);
    const algorithm = HASH_TYPES[hashType];
    const identifier = cString(bytes, cd + identOffset);
    directories.push({ hashType: algorithm ?? `type ${hashType}`, pages: nCodeSlots, flags, identifier });
    if (!algorithm) {
      problems.push(`${identifier}: unknown hash type ${hashType}`);
      continue;
    }
    let bad = 0;
    let first = -1;
    for (let page = 0; page < nCodeSlots; page++) {
      const start = page * pageSize;
      const end = Math.min(start + pageSize, codeLimit);
      const digest = createHash(algorithm).update(bytes.subarray(start, end)).digest();
      const stored = bytes.subarray(cd + hashOffset + page * hashSize, cd + hashOffset + (page + 1) * hashSize);
      if (!digest.subarray(0, hashSize).equals(stored)) {
        bad++;
        if (first < 0) first = page;
      }
    }
    if (bad > 0)
      problems.push(
        `${identifier} (${algorithm}): ${bad} of ${nCodeSlots} code pages do not match (first: page ${first})`,
      );
  }
  if (directories.length === 0) problems.push("no CodeDirectory in the signature");
  return { ok: problems.length === 0, problems, directories };
}

/**
 * Replace the signature with an ad-hoc one, the same shape the linker (and Bun, for
 * darwin-arm64) writes: one SHA-256 CodeDirectory, flagged ad-hoc and linker-signed, no
 * requirements. Written in place: the load commands and the reserved space stay as they are.
 * Returns a new buffer.
 */
export function signAdHoc(input: Uint8Array, identifier: string): Uint8Array {
  const original = readLayout(input);
  if (!original.signature) throw new Error("no LC_CODE_SIGNATURE load command to sign into");
  if (!original.text || !original.linkedit) throw new Error("no __TEXT or __LINKEDIT segment");
  const { dataoff } = original.signature;
  const pageSize = 4096;
  const nCodeSlots = Math.ceil(dataoff / pageSize);
  const ident = new TextEncoder().encode(`${identifier}\0`);
  const needed = 12 + 8 + 88 + ident.length + nCodeSlots * 32;
  // The signature is the last thing in the file (in __LINKEDIT); when the one Bun leaves is too
  // small (its runtime's own, for fewer pages), grow it as codesign does.
  const datasize = Math.max(original.signature.datasize, Math.ceil(needed / 16) * 16);
  if (dataoff + original.signature.datasize !== input.length)
    throw new Error("the code signature is not at the end of the file");
  const bytes = new Uint8Array(dataoff + datasize);
  bytes.set(input.subarray(0, dataoff));
  const view = dv(bytes);
  view.setUint32(original.signature.command + 12, datasize, true);
  const linkeditSize = dataoff + datasize - original.linkedit.fileoff;
  view.setBigUint64(original.linkedit.command + 48, BigInt(linkeditSize), true);
  const vmPage = view.getUint32(4, true) === CPU_TYPE_ARM64 ? 0x4000 : 0x1000;
  view.setBigUint64(original.linkedit.command + 32, BigInt(Math.ceil(linkeditSize / vmPage) * vmPage), true);
  const layout = readLayout(bytes);
  if (!layout.signature || !layout.text) throw new Error("unreadable after resizing");
  const codeLimit = dataoff;
  const headerSize = 88; // CodeDirectory version 0x20400, up to execSegFlags
  const identOffset = headerSize;
  const hashOffset = identOffset + ident.length;
  const cdLength = hashOffset + nCodeSlots * 32;
  const cd = new Uint8Array(cdLength);
  const v = dv(cd);
  v.setUint32(0, CSMAGIC_CODEDIRECTORY, false);
  v.setUint32(4, cdLength, false);
  v.setUint32(8, 0x20400, false);
  v.setUint32(12, CS_ADHOC | CS_LINKER_SIGNED, false);
  v.setUint32(16, hashOffset, false);
  v.setUint32(20, identOffset, false);
  v.setUint32(24, 0, false); // no special slots
  v.setUint32(28, nCodeSlots, false);
  v.setUint32(32, codeLimit, false);
  cd[36] = 32; // hashSize
  cd[37] = 2; // SHA-256
  cd[38] = 0; // platform
  cd[39] = 12; // log2(pageSize)
  // spare2 (40), scatterOffset (44), teamOffset (48), spare3 (52), codeLimit64 (56): zero
  v.setBigUint64(64, BigInt(layout.text.fileoff), false);
  v.setBigUint64(72, BigInt(layout.text.filesize), false);
  v.setBigUint64(80, CS_EXECSEG_MAIN_BINARY, false);
  cd.set(ident, identOffset);
  for (let page = 0; page < nCodeSlots; page++) {
    const start = page * pageSize;
    const digest = createHash("sha256")
      .update(bytes.subarray(start, Math.min(start + pageSize, codeLimit)))
      .digest();
    cd.set(digest, hashOffset + page * 32);
  }
  const superLength = 12 + 8 + cd.length;
  if (superLength > datasize)
    throw new Error(`an ad-hoc signature needs ${superLength} bytes, ${datasize} are reserved`);
  const blob = new Uint8Array(datasize);
  const b = dv(blob);
  b.setUint32(0, CSMAGIC_EMBEDDED_SIGNATURE, false);
  b.setUint32(4, superLength, false);
  b.setUint32(8, 1, false);
  b.setUint32(12, CSSLOT_CODEDIRECTORY, false);
  b.setUint32(16, 20, false);
  blob.set(cd, 20);
  bytes.set(blob, dataoff);
  return bytes;
}

// --- internal ---

const MH_MAGIC_64 = 0xfeedfacf;
const CPU_TYPE_ARM64 = 0x0100000c;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;
const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CSSLOT_CODEDIRECTORY = 0;
const CSSLOT_ALTERNATE = 0x1000;
const CS_ADHOC = 0x2;
const CS_LINKER_SIGNED = 0x20000;
const CS_EXECSEG_MAIN_BINARY = 1n;
const HASH_TYPES: Record<number, string> = { 1: "sha1", 2: "sha256", 3: "sha256", 4: "sha384" };

function dv(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readLayout(bytes: Uint8Array): {
  signature?: { dataoff: number; datasize: number; command: number };
  text?: { fileoff: number; filesize: number };
  linkedit?: { fileoff: number; filesize: number; command: number };
} {
  if (!isMachO(bytes)) throw new Error("not a 64-bit little-endian Mach-O file");
  const view = dv(bytes);
  const ncmds = view.getUint32(16, true);
  let at = 32;
  const out: ReturnType<typeof readLayout> = {};
  for (let i = 0; i < ncmds; i++) {
    const cmd = view.getUint32(at, true);
    const size = view.getUint32(at + 4, true);
    if (cmd === LC_CODE_SIGNATURE)
      out.signature = { dataoff: view.getUint32(at + 8, true), datasize: view.getUint32(at + 12, true), command: at };
    if (cmd === LC_SEGMENT_64) {
      const segment = {
        fileoff: Number(view.getBigUint64(at + 40, true)),
        filesize: Number(view.getBigUint64(at + 48, true)),
      };
      const name = cString(bytes, at + 8);
      if (name === "__TEXT") out.text = segment;
      if (name === "__LINKEDIT") out.linkedit = { ...segment, command: at };
    }
    at += size;
  }
  return out;
}

function cString(bytes: Uint8Array, at: number): string {
  let end = at;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(at, end));
}
