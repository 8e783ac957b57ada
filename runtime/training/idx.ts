// IDX files (MNIST, Fashion-MNIST): a bounds-checked reader, gzip or plain by content, and the four-file dataset.

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { NDArray, shapeStr } from '../array/ndarray.js';
import { readWholeFile } from '../serializers/read-file.js';
import { TupleDataset } from './tuple-dataset.js';

/** The element types an IDX file can hold, by its type code (the third byte). */
const TYPES = {
  0x08: { name: 'uint8', size: 1 },
  0x09: { name: 'int8', size: 1 },
  0x0b: { name: 'int16', size: 2 },
  0x0c: { name: 'int32', size: 4 },
  0x0d: { name: 'float32', size: 4 },
  0x0e: { name: 'float64', size: 8 },
} as const;
type TypeCode = keyof typeof TYPES;
export type IdxType = (typeof TYPES)[TypeCode]['name'];

/** One IDX array: its element type, its shape, and its values (native byte order; uint8 data is a view, not a copy). */
export interface IdxArray {
  readonly type: IdxType;
  readonly shape: readonly number[];
  readonly values: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

export interface IdxReadOptions {
  /**
   * The most bytes a gzip file may inflate to (default 1 GiB; Fashion-MNIST's largest file
   * inflates to 47 MB). Inflating stops there, so a small file that claims or holds far more
   * is an error, not an allocation.
   */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 1 << 30;

/**
 * Parse IDX bytes, gzip-compressed or plain (told apart by the gzip magic bytes 1f 8b, not
 * by the name). `name` stands for the file in errors: `readIdx: <name>: <what> (at offset n)`.
 * The dimensions are checked against the bytes present before any array is made.
 */
export function parseIdx(bytes: Uint8Array, name: string, opts: IdxReadOptions = {}): IdxArray {
  const where = `readIdx: ${name}`;
  const fail = (what: string, at?: number): never => {
    throw new Error(`${where}: ${what}${at === undefined ? '' : ` (at offset ${at})`}`);
  };
  let b = bytes;
  let inflated = '';
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    try {
      b = gunzipSync(b, { maxOutputLength: Math.max(1, maxBytes) });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ERR_BUFFER_TOO_LARGE') fail(`gzip data inflates to more than ${maxBytes} bytes (maxBytes)`);
      fail(`corrupt gzip data: ${err.message}`);
    }
    inflated = ' of the inflated data';
  }
  if (b.length < 4) fail(`truncated: ${b.length} bytes${inflated}, shorter than the 4-byte IDX magic`, 0);
  if (b[0] !== 0 || b[1] !== 0) fail(`not an IDX file: the magic number starts ${hex(b[0])} ${hex(b[1])}${inflated}, expected 00 00`, 0);
  const code = b[2];
  if (!(code in TYPES)) fail(`unknown IDX type code ${hex(code)}${inflated} (expected 08, 09, 0b, 0c, 0d or 0e)`, 2);
  const type = TYPES[code as TypeCode];
  const ndim = b[3];
  if (ndim === 0) fail(`an IDX array needs at least one dimension, the header gives 0${inflated}`, 3);
  const start = 4 + 4 * ndim;
  if (b.length < start) fail(`truncated: ${ndim} dimensions need a ${start}-byte header, the file${inflated} has ${b.length} bytes`, 4);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const shape: number[] = [];
  const present = b.length - start;
  let size = 1;
  for (let d = 0; d < ndim; d++) {
    const n = dv.getUint32(4 + 4 * d, false);
    shape.push(n);
    size *= n; // a plain float: past 2^53 it is inexact, and only ever compared, never allocated
  }
  if (size * type.size !== present) {
    const need = Number.isSafeInteger(size * type.size) ? String(size * type.size) : `more than ${present}`;
    fail(`shape ${shapeStr(shape)} of ${type.name} needs ${need} data bytes, the file${inflated} has ${present}`, start);
  }
  return { type: type.name, shape, values: decode(code as TypeCode, b, start, size) };
}

/** Big-endian elements to a native typed array (uint8 and int8 as views of the bytes). */
function decode(code: TypeCode, b: Uint8Array, start: number, n: number): IdxArray['values'] {
  if (code === 0x08) return b.subarray(start, start + n);
  if (code === 0x09) return new Int8Array(b.buffer, b.byteOffset + start, n);
  const dv = new DataView(b.buffer, b.byteOffset + start, n * TYPES[code].size);
  switch (code) {
    case 0x0b: { const o = new Int16Array(n); for (let i = 0; i < n; i++) o[i] = dv.getInt16(2 * i, false); return o; }
    case 0x0c: { const o = new Int32Array(n); for (let i = 0; i < n; i++) o[i] = dv.getInt32(4 * i, false); return o; }
    case 0x0d: { const o = new Float32Array(n); for (let i = 0; i < n; i++) o[i] = dv.getFloat32(4 * i, false); return o; }
    case 0x0e: { const o = new Float64Array(n); for (let i = 0; i < n; i++) o[i] = dv.getFloat64(8 * i, false); return o; }
    default: return code satisfies never;
  }
}

const hex = (x: number) => x.toString(16).padStart(2, '0');

/** Read one IDX file (gzip or plain). */
export async function readIdx(path: string, opts: IdxReadOptions = {}): Promise<IdxArray> {
  const bytes = await readWholeFile(path, 'readIdx');
  return parseIdx(bytes, path, opts);
}

/** An image file as float32 (N, ...): uint8 pixels scaled to [0, scale], other types as they are. */
export function idxImages(a: IdxArray, name: string, scale = 1): NDArray {
  if (a.shape.length < 2) throw new Error(`readIdx: ${name}: images need at least 2 dimensions (count, ...), got shape ${shapeStr(a.shape)}`);
  const out = new Float32Array(a.values.length);
  const k = a.type === 'uint8' ? scale / 255 : 1;
  for (let i = 0; i < out.length; i++) out[i] = a.values[i] * k;
  return new NDArray(out, a.shape.slice());
}

/** A label file as int32 (N,). */
export function idxLabels(a: IdxArray, name: string): NDArray {
  if (a.shape.length !== 1) throw new Error(`readIdx: ${name}: labels need 1 dimension, got shape ${shapeStr(a.shape)}`);
  if (a.type === 'float32' || a.type === 'float64') throw new Error(`readIdx: ${name}: labels must be integers, got ${a.type}`);
  return new NDArray(Int32Array.from(a.values as ArrayLike<number>), a.shape.slice());
}

/** The four files of an MNIST-style dataset. */
export interface IdxFiles {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

export interface IdxDatasetOptions extends IdxReadOptions {
  /** Image shape per example, as Chainer's get_mnist: 1 gives (784,), 2 gives (28, 28), 3 gives (1, 28, 28). Default 1. */
  ndim?: 1 | 2 | 3;
  /** Pixels are scaled to [0, scale] (default 1). */
  scale?: number;
}

const FILE_NAMES: IdxFiles = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

/**
 * MNIST or Fashion-MNIST from IDX files, as Chainer's `get_mnist()` returns it: train and
 * test TupleDatasets of (image float32 in [0, 1], label int32). `source` is a folder holding
 * the four standard files (each plain or with `.gz`), or the four paths.
 *
 * ```ts
 * const { train, test } = await training.getIdxDataset('/usr/share/datasets/fashion-mnist');
 * const [x0, t0] = train.get(0);   // x0 (784,) float32, t0 () int32
 * ```
 */
export async function getIdxDataset(
  source: string | IdxFiles,
  opts: IdxDatasetOptions = {},
): Promise<{ train: TupleDataset<[NDArray, NDArray]>; test: TupleDataset<[NDArray, NDArray]> }> {
  const files = typeof source === 'string' ? await findFiles(source) : source;
  const ndim = opts.ndim ?? 1;
  if (![1, 2, 3].includes(ndim)) throw new Error(`getIdxDataset: ndim must be 1, 2 or 3, got ${ndim}`);
  const split = async (images: string, labels: string) => {
    const x = idxImages(await readIdx(images, opts), images, opts.scale ?? 1);
    const t = idxLabels(await readIdx(labels, opts), labels);
    if (x.shape[0] !== t.shape[0]) {
      throw new Error(`getIdxDataset: ${images} holds ${x.shape[0]} images and ${labels} ${t.shape[0]} labels`);
    }
    const n = x.shape[0], pixels = x.size / Math.max(1, n), rest = x.shape.slice(1);
    const shape = ndim === 1 ? [n, pixels] : ndim === 2 ? [n, ...rest.slice(-2)] : [n, 1, ...rest.slice(-2)];
    if (ndim > 1 && rest.length !== 2) throw new Error(`getIdxDataset: ndim ${ndim} needs images of shape (N, H, W), ${images} has ${shapeStr(x.shape)}`);
    return new TupleDataset(x.reshape(shape), t);
  };
  return { train: await split(files.trainImages, files.trainLabels), test: await split(files.testImages, files.testLabels) };
}

async function findFiles(folder: string): Promise<IdxFiles> {
  const exists = (p: string) => stat(p).then((s) => s.isFile(), () => false);
  const out = {} as IdxFiles;
  for (const key of Object.keys(FILE_NAMES) as (keyof IdxFiles)[]) {
    const base = join(folder, FILE_NAMES[key]);
    const found = (await exists(base)) ? base : (await exists(`${base}.gz`)) ? `${base}.gz` : null;
    if (found === null) throw new Error(`getIdxDataset: ${folder}: neither ${FILE_NAMES[key]} nor ${FILE_NAMES[key]}.gz is there`);
    out[key] = found;
  }
  return out;
}
