// The .npy format (NumPy's NEP 1): magic, version, a Python-literal header dict, then raw C-order data.

import { NDArray, shapeStr, TYPED, type DType, type TypedArray } from '../array/ndarray.js';
import { writeFileAtomic } from './atomic-write.js';
import { readWholeFile } from './read-file.js';

/** The element types kusari reads: numpy's codes without the byte-order mark. */
type Kind = 'f4' | 'f8' | 'i1' | 'i2' | 'i4' | 'i8' | 'u1' | 'u2' | 'u4' | 'u8' | 'b1';
const ITEM_SIZE: { [K in Kind]: number } = { f4: 4, f8: 8, i1: 1, i2: 2, i4: 4, i8: 8, u1: 1, u2: 2, u4: 4, u8: 8, b1: 1 };
const DESCR_OF: { [D in DType]: string } = { float32: '<f4', float64: '<f8', int32: '<i4' };

/** Dimensions beyond this are refused before any product is formed (numpy's own limit is 64). */
const MAX_DIMS = 64;

/**
 * One array as stored in a .npy: its header, and a view of its data bytes (not copied).
 * Converting it into a typed array allocates exactly `bytes.length` or fewer bytes per element
 * times the target's size, never anything a length field alone decides.
 */
export interface NpyView {
  readonly descr: string;
  readonly kind: Kind;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  readonly size: number;
  readonly bytes: Uint8Array;
}

/** An error with where it happened: `<op>: <file>: <what>`. */
export class NpyFormatError extends Error {}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/**
 * Parse the .npy bytes `b`. `where` prefixes every error message (`loadNpz: /f.npz: entry
 * 'W.npy'`); `base` is the offset of `b` inside the file, so that offsets in messages are the
 * file's. Every size is checked against the bytes present before anything is allocated.
 */
export function parseNpy(b: Uint8Array, where: string, base = 0): NpyView {
  const fail = (what: string, at?: number): never => {
    throw new NpyFormatError(`${where}: ${what}${at === undefined ? '' : ` (at offset ${base + at})`}`);
  };
  if (b.length < 10) fail(`truncated .npy: ${b.length} bytes, shorter than the 10-byte preamble`, 0);
  for (let i = 0; i < 6; i++) if (b[i] !== MAGIC[i]) fail('not a .npy array: the magic string \\x93NUMPY is missing', 0);
  const major = b[6], minor = b[7];
  if (major < 1 || major > 3 || minor !== 0) fail(`unsupported .npy version ${major}.${minor} (kusari reads 1.0, 2.0 and 3.0)`, 6);
  const lenBytes = major === 1 ? 2 : 4;
  if (b.length < 8 + lenBytes) fail(`truncated .npy: ${b.length} bytes, no room for the header length`, 8);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const headerLen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = 8 + lenBytes;
  if (start + headerLen > b.length) fail(`truncated .npy: the header claims ${headerLen} bytes, only ${b.length - start} follow`, 8);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(b.subarray(start, start + headerLen));
  let dict: Record<string, Literal>;
  try {
    dict = parseDict(text);
  } catch (e) {
    return fail(`bad .npy header ${JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}...` : text)}: ${(e as Error).message}`, start);
  }
  const descr = dict.descr, fortran = dict.fortran_order, shape = dict.shape;
  if (typeof descr !== 'string') return fail(`bad .npy header: 'descr' must be a string such as '<f4', got ${show(descr)}`, start);
  if (typeof fortran !== 'boolean') return fail(`bad .npy header: 'fortran_order' must be True or False, got ${show(fortran)}`, start);
  if (!Array.isArray(shape)) return fail(`bad .npy header: 'shape' must be a tuple of integers, got ${show(shape)}`, start);
  const kind = kindOf(descr);
  if (kind === null) {
    return fail(`unsupported dtype '${descr}' (kusari reads little-endian float32 '<f4', float64 '<f8' and integers such as '<i4', '<i8')`, start);
  }
  if (shape.length > MAX_DIMS) fail(`bad .npy header: ${shape.length} dimensions, more than ${MAX_DIMS}`, start);
  const data = b.subarray(start + headerLen);
  const itemSize = ITEM_SIZE[kind];
  let size = 1;
  for (const n of shape) {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return fail(`bad .npy header: dimension ${n} in shape ${show(shape)}`, start);
    size *= n; // a plain float: past 2^53 it is inexact, and only ever compared, never allocated
  }
  if (size * itemSize !== data.length) {
    const need = Number.isSafeInteger(size * itemSize) ? String(size * itemSize) : `more than ${data.length}`;
    fail(`shape ${shapeStr(shape as number[])} of '${descr}' needs ${need} data bytes, the file has ${data.length}`, start + headerLen);
  }
  return { descr, kind, fortranOrder: fortran, shape: shape as number[], size, bytes: data };
}

/** The kusari dtype an array of this kind loads as when nothing asks for another. */
export function naturalDType(kind: Kind): DType {
  return kind === 'f4' ? 'float32' : kind === 'f8' || kind === 'i8' || kind === 'u4' || kind === 'u8' ? 'float64' : 'int32';
}

/** Whether numpy's 'same_kind' casting (Chainer's copyto) allows `kind` into `dtype`: floats never become integers. */
export function canCast(kind: Kind, dtype: DType): boolean {
  return dtype !== 'int32' || (kind !== 'f4' && kind !== 'f8');
}

/**
 * The array's values as a C-order typed array of `dtype` (one allocation of `size` elements,
 * which parseNpy bounded by the bytes present). Integers that do not fit int32 are an error.
 */
export function toTyped(v: NpyView, dtype: DType, where: string): TypedArray {
  const out = new TYPED[dtype](v.size);
  const dv = new DataView(v.bytes.buffer, v.bytes.byteOffset, v.bytes.byteLength);
  const read = READ[v.kind];
  const step = ITEM_SIZE[v.kind];
  for (let i = 0; i < v.size; i++) {
    const x = read(dv, i * step);
    if (dtype === 'int32' && (x > 2147483647 || x < -2147483648)) {
      throw new NpyFormatError(`${where}: value ${x} at index ${i} of '${v.descr}' does not fit int32`);
    }
    out[i] = x;
  }
  return v.fortranOrder && v.shape.length > 1 ? fromFortran(out, v.shape) : out;
}

/** The array as an NDArray on the CPU, in `dtype` (default: its own, int64 read as float64). */
export function npyToNDArray(v: NpyView, where: string, dtype: DType = naturalDType(v.kind)): NDArray {
  return new NDArray(toTyped(v, dtype, where), v.shape.slice());
}

const READ: { [K in Kind]: (dv: DataView, at: number) => number } = {
  f4: (dv, at) => dv.getFloat32(at, true),
  f8: (dv, at) => dv.getFloat64(at, true),
  i1: (dv, at) => dv.getInt8(at),
  i2: (dv, at) => dv.getInt16(at, true),
  i4: (dv, at) => dv.getInt32(at, true),
  i8: (dv, at) => Number(dv.getBigInt64(at, true)),
  u1: (dv, at) => dv.getUint8(at),
  u2: (dv, at) => dv.getUint16(at, true),
  u4: (dv, at) => dv.getUint32(at, true),
  u8: (dv, at) => Number(dv.getBigUint64(at, true)),
  b1: (dv, at) => (dv.getUint8(at) === 0 ? 0 : 1),
};

/** Column-major elements to row-major (numpy writes fortran_order True for a transposed array). */
function fromFortran(f: TypedArray, shape: readonly number[]): TypedArray {
  const rev = new NDArray(f, shape.slice().reverse());
  return rev.transpose().toFlat();
}

function kindOf(descr: string): Kind | null {
  // '|' (not applicable) for one-byte types, '<' little-endian, '=' native (little on every host kusari runs on)
  const m = /^([<|=])([fiub])(\d)$/.exec(descr);
  if (m === null) return null;
  const kind = `${m[2]}${m[3]}` as Kind;
  if (!(kind in ITEM_SIZE)) return null;
  if (m[1] === '|' && ITEM_SIZE[kind] !== 1) return null;
  return kind;
}

// ---- writing ------------------------------------------------------------------------------

/**
 * The .npy header for a C-order array (format 1.0, or 2.0 when the header passes 64 KiB),
 * padded with spaces so that the data starts on a 64-byte boundary, as numpy writes it.
 */
export function npyHeader(dtype: DType, shape: readonly number[]): Uint8Array {
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${DESCR_OF[dtype]}', 'fortran_order': False, 'shape': ${tuple}, }`;
  let major = 1, pre = 10;
  if (dict.length + 1 + pre > 65535) { major = 2; pre = 12; }
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const out = new Uint8Array(total);
  out.set(MAGIC);
  out[6] = major;
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, total - pre, true);
  else dv.setUint32(8, total - pre, true);
  for (let i = 0; i < dict.length; i++) out[pre + i] = dict.charCodeAt(i);
  out.fill(0x20, pre + dict.length, total - 1);
  out[total - 1] = 0x0a;
  return out;
}

/** The little-endian bytes of a typed array, without copying. */
export function bytesOf(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

// ---- files ----------------------------------------------------------------------------------

/** Save one array as a .npy file (numpy.save), atomically. */
export async function saveNpy(path: string, x: NDArray): Promise<void> {
  const data = await x.data();
  await writeFileAtomic(path, async (put) => {
    await put(npyHeader(x.dtype, x.shape));
    await put(bytesOf(data));
  });
}

/**
 * Load a .npy file (numpy.save's) as a CPU NDArray: float32, float64 or int32 as stored,
 * other integers as int32 when they fit (int64, uint32 and uint64 as float64).
 */
export async function loadNpy(path: string): Promise<NDArray> {
  const bytes = await readWholeFile(path, 'loadNpy');
  const where = `loadNpy: ${path}`;
  return npyToNDArray(parseNpy(bytes, where), where);
}

// ---- the header's Python literal -----------------------------------------------------------

type Literal = string | number | boolean | null | Literal[] | { [k: string]: Literal };

/** A dict of Python literals, as numpy's header holds (strings, True/False, tuples of ints). */
function parseDict(text: string): Record<string, Literal> {
  let i = 0;
  const ws = () => { while (i < text.length && /\s/.test(text[i])) i++; };
  const expect = (c: string) => {
    ws();
    if (text[i] !== c) throw new Error(`expected '${c}' at character ${i}, found ${text[i] === undefined ? 'the end' : `'${text[i]}'`}`);
    i++;
  };
  const value = (depth: number): Literal => {
    if (depth > 8) throw new Error('nested too deeply');
    ws();
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unterminated string at character ${i}`);
      const s = text.slice(i + 1, end);
      if (s.includes('\\')) throw new Error(`escapes in strings are not supported (character ${i})`);
      i = end + 1;
      return s;
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: Literal[] = [];
      for (;;) {
        ws();
        if (text[i] === close) { i++; return items; }
        if (items.length >= MAX_DIMS + 1) throw new Error('too many items in a tuple');
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === close) { i++; return items; }
        throw new Error(`expected ',' or '${close}' at character ${i}`);
      }
    }
    if (c === '{') return dict(depth + 1);
    const m = /^(True|False|None|-?\d{1,20}L?)/.exec(text.slice(i, i + 24));
    if (m === null) throw new Error(`unexpected ${c === undefined ? 'end' : `'${c}'`} at character ${i}`);
    i += m[1].length;
    if (m[1] === 'True') return true;
    if (m[1] === 'False') return false;
    if (m[1] === 'None') return null;
    return Number(m[1].replace('L', ''));
  };
  const dict = (depth: number): Record<string, Literal> => {
    expect('{');
    const out: Record<string, Literal> = Object.create(null);
    for (;;) {
      ws();
      if (text[i] === '}') { i++; return out; }
      const k = value(depth);
      if (typeof k !== 'string') throw new Error(`a key must be a string, got ${show(k)}`);
      expect(':');
      out[k] = value(depth);
      ws();
      if (text[i] === ',') { i++; continue; }
      if (text[i] === '}') { i++; return out; }
      throw new Error(`expected ',' or '}' at character ${i}`);
    }
  };
  const d = dict(0);
  ws();
  if (i !== text.length) throw new Error(`unexpected text after the dict at character ${i}`);
  return d;
}

function show(x: unknown): string {
  if (x === undefined) return 'nothing';
  const s = JSON.stringify(x);
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}
