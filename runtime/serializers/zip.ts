// The zip container of .npz files: a bounds-checked reader (zip64 included) and a streaming writer.
//
// Not fflate: its unzipSync allocates each member's output from the size the header claims
// (a fuzzed header asks for gigabytes), its zipSync holds the whole archive in memory with
// 32-bit sizes (no zip64), and its streaming inflater allocates ~400 KB per call whatever
// the input. The directory is read and written here; node:zlib inflates with an output
// bound and allocates only as output is produced.

import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';

/** One member of an archive, with sizes and offsets read from the central directory. */
export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Offset of the entry's data (after its local header) in the archive. */
  readonly dataOffset: number;
}

export class ZipFormatError extends Error {}

const U32 = 0xffffffff;
const SIG = { local: 0x04034b50, central: 0x02014b50, end: 0x06054b50, end64: 0x06064b50, locator64: 0x07064b50 };

/** An archive's bytes by absolute offset: all in memory, or read from a file as needed. */
export interface ByteSource {
  readonly length: number;
  /** `length` bytes at `offset`; callers check that the range lies inside the source first. */
  read(offset: number, length: number): Uint8Array;
}

/** Bytes already in memory (reads are views, no copies). */
export const memorySource = (b: Uint8Array): ByteSource => ({ length: b.length, read: (o, n) => b.subarray(o, o + n) });

/** Little-endian fields of a window [base, base + bytes.length) of the archive, by absolute offset. */
function fields(base: number, bytes: Uint8Array) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    bytes: (at: number, n: number) => bytes.subarray(at - base, at - base + n),
    u16: (at: number) => dv.getUint16(at - base, true),
    u32: (at: number) => dv.getUint32(at - base, true),
    u64: (at: number) => dv.getBigUint64(at - base, true),
  };
}

/**
 * The entries of an archive, in directory order. `where` prefixes errors
 * (`loadNpz: /path/x.npz`). Only the end records, the central directory and each local
 * header are read, and every count, size and offset is checked against the archive's length
 * before it is used, so a corrupt directory is an error, never an allocation or a hang.
 */
export function readZipDirectory(src: ByteSource | Uint8Array, where: string): ZipEntry[] {
  if (src instanceof Uint8Array) src = memorySource(src);
  const fail = (what: string, at?: number): never => {
    throw new ZipFormatError(`${where}: ${what}${at === undefined ? '' : ` (at offset ${at})`}`);
  };
  const len = src.length;
  const within = (v: bigint, what: string, at: number): number => {
    if (v > BigInt(len)) fail(`${what} ${v} is beyond the file's ${len} bytes`, at);
    return Number(v);
  };
  if (len < 22) fail(`not a zip archive (.npz): ${len} bytes, shorter than an end-of-directory record`);
  // the end record sits in the last 22 + 65535 bytes (its comment is at most 64 KiB)
  const tailStart = Math.max(0, len - 22 - 65535);
  const tail = fields(tailStart, src.read(tailStart, len - tailStart));
  let end = -1;
  for (let at = len - 22; at >= tailStart; at--) {
    if (tail.u32(at) === SIG.end && at + 22 + tail.u16(at + 20) <= len) { end = at; break; }
  }
  if (end < 0) fail('not a zip archive (.npz): no end-of-central-directory record (truncated?)');
  let count = tail.u16(end + 10), cdSize = tail.u32(end + 12), cdOffset = tail.u32(end + 16);
  if (tail.u16(end + 4) !== 0 || tail.u16(end + 6) !== 0) fail('multi-disk zip archives are not supported', end);
  const locator = end >= 20 ? fields(end - 20, src.read(end - 20, 20)) : null;
  if (locator !== null && locator.u32(end - 20) === SIG.locator64) {
    const rec = within(locator.u64(end - 12), 'the zip64 end record offset', end - 12);
    if (rec + 56 > len) fail('the zip64 locator points past the end of the file', end - 20);
    const z = fields(rec, src.read(rec, 56));
    if (z.u32(rec) !== SIG.end64) fail('the zip64 locator points at no zip64 end record', end - 20);
    count = within(z.u64(rec + 32), 'the entry count', rec + 32);
    cdSize = within(z.u64(rec + 40), 'the central directory size', rec + 40);
    cdOffset = within(z.u64(rec + 48), 'the central directory offset', rec + 48);
  } else if (count === 0xffff || cdSize === U32 || cdOffset === U32) {
    fail('the end record asks for zip64 fields and no zip64 locator precedes it', end);
  }
  if (cdOffset + cdSize > len) fail(`the central directory (${cdSize} bytes at ${cdOffset}) runs past the end of the file (${len} bytes)`, end);
  if (count * 46 > cdSize) fail(`the directory claims ${count} entries, its ${cdSize} bytes hold at most ${Math.floor(cdSize / 46)}`, end);

  const cd = fields(cdOffset, src.read(cdOffset, cdSize));
  const { u16, u32 } = cd;
  const entries: ZipEntry[] = [];
  const names = new Set<string>();
  let at = cdOffset;
  const cdEnd = cdOffset + cdSize;
  for (let k = 0; k < count; k++) {
    if (at + 46 > cdEnd || u32(at) !== SIG.central) fail(`central directory entry ${k} is missing or corrupt`, at);
    const flags = u16(at + 8), method = u16(at + 10), crc = u32(at + 16);
    let compressedSize = u32(at + 20), size = u32(at + 24), offset = u32(at + 42);
    const nameLen = u16(at + 28), extraLen = u16(at + 30), commentLen = u16(at + 32);
    const next = at + 46 + nameLen + extraLen + commentLen;
    if (next > cdEnd) fail(`central directory entry ${k} runs past the directory`, at);
    const name = new TextDecoder(flags & 0x800 ? 'utf-8' : 'latin1').decode(cd.bytes(at + 46, nameLen));
    if (flags & 1) fail(`entry '${name}' is encrypted`, at);
    if (method !== 0 && method !== 8) fail(`entry '${name}' uses compression method ${method} (kusari reads stored and deflate)`, at);
    // zip64 extra field: the 8-byte values, in this order, of the fields that read 0xffffffff
    if (size === U32 || compressedSize === U32 || offset === U32) {
      let e = at + 46 + nameLen, found = false;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = u16(e), len = u16(e + 2);
        if (e + 4 + len > extraEnd) break;
        if (id === 1) {
          let p = e + 4;
          const take = (what: string) => {
            if (p + 8 > e + 4 + len) fail(`entry '${name}': the zip64 extra field is too short for the ${what}`, e);
            const v = within(cd.u64(p), `entry '${name}': the ${what}`, p);
            p += 8;
            return v;
          };
          if (size === U32) size = take('size');
          if (compressedSize === U32) compressedSize = take('compressed size');
          if (offset === U32) offset = take('local header offset');
          found = true;
          break;
        }
        e += 4 + len;
      }
      if (!found) fail(`entry '${name}' asks for zip64 sizes and has no zip64 extra field`, at);
    }
    const local = offset + 30 <= len ? fields(offset, src.read(offset, 30)) : null;
    if (local === null || local.u32(offset) !== SIG.local) fail(`entry '${name}': no local header at offset ${offset}`, at);
    const dataOffset = offset + 30 + local!.u16(offset + 26) + local!.u16(offset + 28);
    if (dataOffset + compressedSize > len) {
      fail(`entry '${name}': ${compressedSize} bytes of data at offset ${dataOffset} run past the end of the file (${len} bytes; truncated?)`, offset);
    }
    if (method === 0 && size !== compressedSize) fail(`entry '${name}' is stored but its sizes differ (${size} vs ${compressedSize})`, at);
    if (names.has(name)) fail(`entry '${name}' appears twice`, at);
    names.add(name);
    entries.push({ name, method, crc, compressedSize, size, dataOffset });
    at = next;
  }
  return entries;
}

/**
 * The entry's bytes, CRC-checked. Stored data is a view (no copy); deflated data is inflated
 * by zlib with the declared size as its output bound, so what is allocated follows the
 * data actually inflated and stops at the declared size.
 */
export function readZipEntry(src: ByteSource | Uint8Array, e: ZipEntry, where: string): Uint8Array {
  if (src instanceof Uint8Array) src = memorySource(src);
  const fail = (what: string): never => {
    throw new ZipFormatError(`${where}: entry '${e.name}' (data at offset ${e.dataOffset}): ${what}`);
  };
  if (e.compressedSize > bufferConstants.MAX_LENGTH) fail(`${e.compressedSize} bytes, more than one buffer can hold (${bufferConstants.MAX_LENGTH})`);
  const raw = src.read(e.dataOffset, e.compressedSize);
  let out: Uint8Array = raw;
  if (e.method === 8) {
    if (e.size > bufferConstants.MAX_LENGTH) fail(`declares ${e.size} bytes, more than one buffer can hold (${bufferConstants.MAX_LENGTH})`);
    try {
      out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      const x = err as NodeJS.ErrnoException;
      fail(x.code === 'ERR_BUFFER_TOO_LARGE' ? `inflates to more than the ${e.size} bytes its directory entry declares` : `corrupt deflate data (${x.message})`);
    }
    if (out.length !== e.size) fail(`inflates to ${out.length} bytes, its directory entry declares ${e.size}`);
  }
  const crc = crc32(out);
  if (crc !== e.crc) fail(`CRC-32 mismatch (computed ${hex(crc)}, stored ${hex(e.crc)}): the data is corrupt`);
  return out;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of chunks) { out.set(c, p); p += c.length; }
  return out;
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

// ---- CRC-32 ---------------------------------------------------------------------------------

let TABLE: Uint32Array | undefined;

/** CRC-32 (zip's and gzip's), continuing from `crc`: node's native one where it exists (Node >= 20.15). */
export function crc32(data: Uint8Array, crc = 0): number {
  const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  if (native !== undefined) return native(data, crc) >>> 0;
  if (TABLE === undefined) {
    TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      TABLE[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---- writing ----------------------------------------------------------------------------------

/** Where archive bytes go, in order (a file handle, or chunks in memory). */
export type ZipSink = (chunk: Uint8Array) => Promise<void>;

interface Written { name: Uint8Array; utf8: boolean; method: number; crc: number; compressedSize: number; size: number; offset: number }

/**
 * Writes a zip archive member by member. Members are stored (or deflated by zlib when
 * `compress`); sizes or offsets that reach `zip64Limit` (4 GiB - 1; a test lowers it)
 * get zip64 fields, as do more than 65535 members, so archives of any size are valid.
 * Times are fixed at 1980-01-01, so equal state gives byte-identical files.
 */
export class ZipWriter {
  private offset = 0;
  private readonly written: Written[] = [];

  constructor(private readonly sink: ZipSink, private readonly opts: { compress?: boolean; zip64Limit?: number } = {}) {}

  private get limit(): number { return this.opts.zip64Limit ?? U32; }

  private async emit(chunk: Uint8Array): Promise<void> {
    await this.sink(chunk);
    this.offset += chunk.length;
  }

  /** Add a member whose contents are `parts` concatenated. */
  async add(name: string, parts: readonly Uint8Array[]): Promise<void> {
    let size = 0, crc = 0;
    for (const p of parts) { size += p.length; crc = crc32(p, crc); }
    let data = parts;
    let method = 0;
    if (this.opts.compress) {
      data = [zlib.deflateRawSync(concat(parts, size), { level: 6 })];
      method = 8;
    }
    const compressedSize = data.reduce((a, p) => a + p.length, 0);
    const nameBytes = new TextEncoder().encode(name);
    const utf8 = /[^\x20-\x7e]/.test(name);
    const zip64 = size >= this.limit || compressedSize >= this.limit;
    const extra = zip64 ? 20 : 0;
    const h = new Uint8Array(30 + nameBytes.length + extra);
    const dv = new DataView(h.buffer);
    dv.setUint32(0, SIG.local, true);
    dv.setUint16(4, zip64 ? 45 : 20, true);
    dv.setUint16(6, utf8 ? 0x800 : 0, true);
    dv.setUint16(8, method, true);
    dv.setUint16(10, 0, true); // time 00:00
    dv.setUint16(12, 0x21, true); // date 1980-01-01
    dv.setUint32(14, crc, true);
    dv.setUint32(18, zip64 ? U32 : compressedSize, true);
    dv.setUint32(22, zip64 ? U32 : size, true);
    dv.setUint16(26, nameBytes.length, true);
    dv.setUint16(28, extra, true);
    h.set(nameBytes, 30);
    if (zip64) {
      const e = 30 + nameBytes.length;
      dv.setUint16(e, 1, true);
      dv.setUint16(e + 2, 16, true);
      dv.setBigUint64(e + 4, BigInt(size), true);
      dv.setBigUint64(e + 12, BigInt(compressedSize), true);
    }
    const offset = this.offset;
    await this.emit(h);
    for (const p of data) await this.emit(p);
    this.written.push({ name: nameBytes, utf8, method, crc, compressedSize, size, offset });
  }

  /** Write the central directory and the end records. */
  async finish(): Promise<void> {
    const cdOffset = this.offset;
    for (const w of this.written) {
      const big = [w.size >= this.limit, w.compressedSize >= this.limit, w.offset >= this.limit];
      const extra = big.some(Boolean) ? 4 + 8 * big.filter(Boolean).length : 0;
      const h = new Uint8Array(46 + w.name.length + extra);
      const dv = new DataView(h.buffer);
      dv.setUint32(0, SIG.central, true);
      dv.setUint16(4, (3 << 8) | (extra ? 45 : 20), true); // made by Unix
      dv.setUint16(6, extra ? 45 : 20, true);
      dv.setUint16(8, w.utf8 ? 0x800 : 0, true);
      dv.setUint16(10, w.method, true);
      dv.setUint16(12, 0, true);
      dv.setUint16(14, 0x21, true);
      dv.setUint32(16, w.crc, true);
      dv.setUint32(20, big[1] ? U32 : w.compressedSize, true);
      dv.setUint32(24, big[0] ? U32 : w.size, true);
      dv.setUint16(28, w.name.length, true);
      dv.setUint16(30, extra, true);
      dv.setUint32(38, (0o100644 << 16) >>> 0, true); // a regular file, rw-r--r--
      dv.setUint32(42, big[2] ? U32 : w.offset, true);
      h.set(w.name, 46);
      if (extra) {
        let e = 46 + w.name.length;
        dv.setUint16(e, 1, true);
        dv.setUint16(e + 2, extra - 4, true);
        e += 4;
        if (big[0]) { dv.setBigUint64(e, BigInt(w.size), true); e += 8; }
        if (big[1]) { dv.setBigUint64(e, BigInt(w.compressedSize), true); e += 8; }
        if (big[2]) dv.setBigUint64(e, BigInt(w.offset), true);
      }
      await this.emit(h);
    }
    const cdSize = this.offset - cdOffset, count = this.written.length;
    const zip64 = count > 0xfffe || cdSize >= this.limit || cdOffset >= this.limit;
    if (zip64) {
      const rec = this.offset;
      const z = new Uint8Array(56 + 20);
      const dv = new DataView(z.buffer);
      dv.setUint32(0, SIG.end64, true);
      dv.setBigUint64(4, 44n, true);
      dv.setUint16(12, (3 << 8) | 45, true);
      dv.setUint16(14, 45, true);
      dv.setBigUint64(24, BigInt(count), true);
      dv.setBigUint64(32, BigInt(count), true);
      dv.setBigUint64(40, BigInt(cdSize), true);
      dv.setBigUint64(48, BigInt(cdOffset), true);
      dv.setUint32(56, SIG.locator64, true);
      dv.setBigUint64(64, BigInt(rec), true);
      dv.setUint32(72, 1, true);
      await this.emit(z);
    }
    const end = new Uint8Array(22);
    const dv = new DataView(end.buffer);
    dv.setUint32(0, SIG.end, true);
    dv.setUint16(8, zip64 ? 0xffff : count, true);
    dv.setUint16(10, zip64 ? 0xffff : count, true);
    dv.setUint32(12, zip64 ? U32 : cdSize, true);
    dv.setUint32(16, zip64 ? U32 : cdOffset, true);
    await this.emit(end);
  }
}
