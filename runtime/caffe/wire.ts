// The protobuf wire format, decoded against schema.ts's tables: bounded, non-recursive beyond a fixed depth.

import type { Decoded, EnumSpec, FieldSpec, MessageSpec, ScalarType } from './schema.js';

/** Protobuf's own nesting limit; Caffe's messages nest 5 deep, so only a hostile file gets near it. */
export const MAX_DEPTH = 64;

const WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LENGTH = 2, WIRE_START_GROUP = 3, WIRE_END_GROUP = 4, WIRE_FIXED32 = 5;

// typed-array views share the platform's byte order; protobuf's is little-endian
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const utf8 = new TextDecoder('utf-8');

/** The wire type a field's values use when not packed. */
function wireTypeOf(type: FieldSpec['type']): number {
  if (typeof type !== 'string') return 'fields' in type ? WIRE_LENGTH : WIRE_VARINT;
  switch (type) {
    case 'string': case 'bytes': return WIRE_LENGTH;
    case 'float': case 'floats': return WIRE_FIXED32;
    case 'double': case 'doubles': return WIRE_FIXED64;
    case 'bool': case 'int32': case 'int64': case 'uint32': case 'uint64': return WIRE_VARINT;
    default: return type satisfies never;
  }
}

const isScalarNumeric = (type: FieldSpec['type']): boolean => wireTypeOf(type) !== WIRE_LENGTH;

/** Decodes one buffer; every error names the file and the byte offset where it was found. */
class WireReader {
  pos = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(at: number, what: string): never {
    throw new Error(`${this.file}: byte ${at}: ${what}`);
  }

  /** A varint as its low and high 32 bits (unsigned); at most 10 bytes, as protobuf allows. */
  varint64(end: number, where: string): [number, number] {
    const start = this.pos;
    let lo = 0, hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) this.fail(start, `${where}: varint runs past the end of its message (${end - start} bytes left)`);
      const b = this.bytes[this.pos++];
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (7 * i - 32);
      // a 64-bit varint's 10th byte holds its last bit, and ends it
      if (i === 9 && b > 1) this.fail(start, `${where}: malformed varint (the 10th byte is ${b}, at most 1)`);
      if ((b & 0x80) === 0) return [lo >>> 0, hi >>> 0];
    }
    throw new Error('unreachable: a 10th byte of at most 1 ends the varint');
  }

  /** A varint that must fit a length or count: below 2^31. */
  length(end: number, where: string): number {
    const start = this.pos;
    const [lo, hi] = this.varint64(end, where);
    if (hi !== 0 || lo > 0x7fffffff) this.fail(start, `${where}: length ${hi * 2 ** 32 + lo} is not a valid length`);
    return lo;
  }

  /** The end of a length-delimited value that starts here, checked against `end` before anything is read. */
  delimited(end: number, where: string): number {
    const start = this.pos;
    const n = this.length(end, where);
    if (n > end - this.pos) this.fail(start, `${where}: length ${n} exceeds the ${end - this.pos} bytes that remain`);
    return this.pos + n;
  }

  fixed(size: 4 | 8, end: number, where: string): void {
    if (end - this.pos < size) this.fail(this.pos, `${where}: ${size}-byte value runs past the end of its message (${end - this.pos} bytes left)`);
  }

  /** Skip one value of wire type `wt` (an unknown field); groups nest at most MAX_DEPTH deep. */
  skip(wt: number, no: number, end: number, depth: number, where: string): void {
    const at = this.pos;
    switch (wt) {
      case WIRE_VARINT: this.varint64(end, where); return;
      case WIRE_FIXED64: this.fixed(8, end, where); this.pos += 8; return;
      case WIRE_FIXED32: this.fixed(4, end, where); this.pos += 4; return;
      case WIRE_LENGTH: this.pos = this.delimited(end, where); return;
      case WIRE_START_GROUP: {
        if (depth >= MAX_DEPTH) this.fail(at, `${where}: groups nested deeper than ${MAX_DEPTH}`);
        for (;;) {
          if (this.pos >= end) this.fail(at, `${where}: group ${no} has no end`);
          const tagAt = this.pos;
          const [tag, tagHi] = this.varint64(end, where);
          const [inner, innerWt] = [tag >>> 3, tag & 7];
          if (tagHi !== 0 || inner === 0) this.fail(tagAt, `${where}: invalid field number in group ${no}`);
          if (innerWt === WIRE_END_GROUP) {
            if (inner !== no) this.fail(tagAt, `${where}: group ${no} closed by end-group ${inner}`);
            return;
          }
          this.skip(innerWt, inner, end, depth + 1, `${where}.#${inner}`);
        }
      }
      default: this.fail(at, `${where}: invalid wire type ${wt}`);
    }
  }

  scalar(type: Exclude<ScalarType, 'floats' | 'doubles' | 'string' | 'bytes'> | EnumSpec, end: number, where: string): number | boolean | string {
    const at = this.pos;
    if (type === 'float') {
      this.fixed(4, end, where);
      const v = this.view.getFloat32(this.pos, true);
      this.pos += 4;
      return v;
    }
    if (type === 'double') {
      this.fixed(8, end, where);
      const v = this.view.getFloat64(this.pos, true);
      this.pos += 8;
      return v;
    }
    const [lo, hi] = this.varint64(end, where);
    if (type === 'bool') return lo !== 0 || hi !== 0;
    if (type === 'uint32') return lo;
    if (type === 'uint64') return hi * 2 ** 32 + lo;
    if (type === 'int32') return lo | 0;
    // int64 (and enums, which protobuf sign-extends to 64 bits on the wire)
    const v = hi & 0x80000000 ? -((~hi >>> 0) * 2 ** 32 + (~lo >>> 0) + 1) : hi * 2 ** 32 + lo;
    if (type === 'int64') return v;
    const name = Object.keys(type.values).find((k) => type.values[k] === v);
    if (name === undefined) this.fail(at, `${where}: ${v} is not a value of enum ${type.name}`);
    return name;
  }

  /** Bytes [pos, end) copied into a fresh Float32Array or Float64Array; `end` was checked by the caller. */
  typed(type: 'floats' | 'doubles', end: number, where: string): Float32Array | Float64Array {
    const size = type === 'floats' ? 4 : 8;
    const n = end - this.pos;
    if (n % size !== 0) this.fail(this.pos, `${where}: packed ${type === 'floats' ? 'float' : 'double'}s take ${n} bytes, not a multiple of ${size}`);
    let out: Float32Array | Float64Array;
    if (LITTLE_ENDIAN) {
      // one copy, straight from the file's bytes
      const buf = this.bytes.buffer.slice(this.bytes.byteOffset + this.pos, this.bytes.byteOffset + end);
      out = type === 'floats' ? new Float32Array(buf) : new Float64Array(buf);
    } else {
      out = type === 'floats' ? new Float32Array(n / 4) : new Float64Array(n / 8);
      for (let i = 0; i < out.length; i++) out[i] = size === 4 ? this.view.getFloat32(this.pos + 4 * i, true) : this.view.getFloat64(this.pos + 8 * i, true);
    }
    this.pos = end;
    return out;
  }

  message<M extends MessageSpec>(spec: M, end: number, depth: number): Decoded<M> {
    if (depth > MAX_DEPTH) this.fail(this.pos, `${spec.name}: messages nested deeper than ${MAX_DEPTH}`);
    const byNo = fieldsByNumber(spec);
    const out: Record<string, unknown> = { $at: this.pos };
    // typed-array fields may arrive in several packed and unpacked pieces: joined at the end
    const pieces = new Map<string, (Float32Array | Float64Array | number[])[]>();
    while (this.pos < end) {
      const tagAt = this.pos;
      const [tag, tagHi] = this.varint64(end, spec.name);
      const no = tag >>> 3, wt = tag & 7;
      if (tagHi !== 0 || no === 0) this.fail(tagAt, `${spec.name}: invalid field number ${tagHi * 2 ** 29 + no}`);
      const entry = byNo.get(no);
      if (entry === undefined) {
        if (wt === WIRE_END_GROUP) this.fail(tagAt, `${spec.name}: unexpected end-group ${no}`);
        if (wt > WIRE_FIXED32) this.fail(tagAt, `${spec.name}.#${no}: invalid wire type ${wt}`);
        this.skip(wt, no, end, depth, `${spec.name}.#${no}`);
        ((out.$unknown ??= []) as string[]).push(`#${no}`);
        continue;
      }
      const [name, field] = entry;
      const where = `${spec.name}.${name}`;
      const type = field.type;
      const expected = wireTypeOf(type);
      if (typeof type === 'object' && 'fields' in type) {
        if (wt !== WIRE_LENGTH) this.fail(tagAt, `${where}: wire type ${wt}, expected ${WIRE_LENGTH} (a message)`);
        const stop = this.delimited(end, where);
        const value = this.message(type, stop, depth + 1);
        if (this.pos !== stop) this.fail(this.pos, `${where}: message ends at byte ${this.pos}, not at ${stop}`);
        if (field.repeated) ((out[name] ??= []) as unknown[]).push(value);
        else out[name] = value;
      } else if (type === 'string' || type === 'bytes') {
        if (wt !== WIRE_LENGTH) this.fail(tagAt, `${where}: wire type ${wt}, expected ${WIRE_LENGTH} (${type})`);
        const stop = this.delimited(end, where);
        const raw = this.bytes.subarray(this.pos, stop);
        const value = type === 'string' ? utf8.decode(raw) : raw.slice();
        this.pos = stop;
        if (field.repeated) ((out[name] ??= []) as unknown[]).push(value);
        else out[name] = value;
      } else if (type === 'floats' || type === 'doubles') {
        const list = pieces.get(name) ?? [];
        pieces.set(name, list);
        if (wt === WIRE_LENGTH) {
          const stop = this.delimited(end, where);
          list.push(this.typed(type, stop, where));
        } else if (wt === expected) {
          const last = list[list.length - 1];
          const v = this.scalar(type === 'floats' ? 'float' : 'double', end, where) as number;
          if (Array.isArray(last)) last.push(v);
          else list.push([v]);
        } else this.fail(tagAt, `${where}: wire type ${wt}, expected ${expected} or ${WIRE_LENGTH} (packed)`);
      } else if (field.repeated && wt === WIRE_LENGTH && isScalarNumeric(type)) {
        // packed repeated scalars
        const stop = this.delimited(end, where);
        const list = (out[name] ??= []) as unknown[];
        while (this.pos < stop) list.push(this.scalar(type, stop, where));
      } else {
        if (wt !== expected) this.fail(tagAt, `${where}: wire type ${wt}, expected ${expected}`);
        const value = this.scalar(type, end, where);
        if (field.repeated) ((out[name] ??= []) as unknown[]).push(value);
        else out[name] = value;
      }
    }
    for (const [name, list] of pieces) out[name] = joinTyped(list, spec.fields[name].type === 'floats');
    return out as Decoded<M>;
  }
}

function joinTyped(list: readonly (Float32Array | Float64Array | number[])[], single: boolean): Float32Array | Float64Array {
  if (list.length === 1 && !Array.isArray(list[0])) return list[0];
  const n = list.reduce((s, p) => s + p.length, 0);
  const out = single ? new Float32Array(n) : new Float64Array(n);
  let at = 0;
  for (const p of list) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const BY_NUMBER = new WeakMap<MessageSpec, Map<number, [string, FieldSpec]>>();
function fieldsByNumber(spec: MessageSpec): Map<number, [string, FieldSpec]> {
  let map = BY_NUMBER.get(spec);
  if (map === undefined) {
    map = new Map(Object.entries(spec.fields).map(([name, f]) => [f.no, [name, f]]));
    BY_NUMBER.set(spec, map);
  }
  return map;
}

/**
 * Decode `bytes` as the message `spec`. Fields the schema does not know are skipped (and
 * listed in `$unknown`); every length is checked against the bytes left in its enclosing
 * message before anything is read or allocated, so no length field can make the reader
 * allocate more than the file holds. Errors read `<file>: byte <offset>: <Message.field>: ...`.
 */
export function decodeMessage<M extends MessageSpec>(bytes: Uint8Array, spec: M, file: string): Decoded<M> {
  const r = new WireReader(bytes, file);
  return r.message(spec, bytes.length, 0);
}
