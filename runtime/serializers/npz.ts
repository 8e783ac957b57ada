// saveNpz / loadNpz: a Serializable's state as NumPy's .npz, with Chainer's key names.

import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { NDArray, shapeStr, type DType, type TypedArray } from '../array/ndarray.js';
import { writeFileAtomic } from './atomic-write.js';
import { bytesOf, canCast, naturalDType, npyHeader, parseNpy, toTyped, type NpyView } from './npy.js';
import type { Serializable, Serializer } from './serializer.js';
import { memorySource, readZipDirectory, readZipEntry, ZipWriter, type ByteSource, type ZipEntry } from './zip.js';

export interface SaveNpzOptions {
  /**
   * Deflate every member (numpy's savez_compressed). Off by default: float weights barely
   * compress, and stored members load without inflating. Chainer's save_npz compresses.
   */
  compression?: boolean;
  /** Sizes and offsets from which zip64 fields are written (default 4 GiB - 1; tests lower it). */
  zip64Limit?: number;
}

export interface LoadNpzOptions {
  /** A prefix put before every key (Chainer's `path=`), e.g. `'updater/model:main/'` to take a model out of a snapshot. */
  path?: string;
  /** A key the target asks for and the file lacks is an error (default); false leaves that value as it is. */
  strict?: boolean;
}

/** A state value captured while saving: C-order elements, read from the device when the save began. */
interface Captured { dtype: DType; shape: readonly number[]; data: Promise<TypedArray> }

/**
 * Save `target`'s state (a Link's parameters and persistents, an Optimizer's state, anything
 * Serializable) to `path` as .npz, with Chainer's keys (`predictor/l1/W`, `l1/W/m`, `t`), so
 * that `numpy.load(path)` and Chainer's `load_npz` read it. The file is replaced atomically
 * (written beside it, fsynced, renamed): a crash leaves the old file or the new one.
 *
 * Values are captured when the call starts (GPU reads are queued then), so training may go
 * on once the returned promise resolves, not before. Any size is written (members and offsets
 * past 4 GiB get zip64 fields).
 *
 * ```ts
 * await serializers.saveNpz('result/model.npz', model);
 * await serializers.loadNpz('result/model.npz', model);
 * ```
 */
export async function saveNpz(path: string, target: Serializable, opts: SaveNpzOptions = {}): Promise<void> {
  const entries = capture(target, `saveNpz: ${path}`);
  await writeFileAtomic(path, (put) => writeNpz(entries, put, opts));
}

/** saveNpz to bytes in memory (the same archive a file would hold). */
export async function saveNpzBytes(target: Serializable, opts: SaveNpzOptions = {}): Promise<Uint8Array> {
  const entries = capture(target, 'saveNpz');
  const chunks: Uint8Array[] = [];
  await writeNpz(entries, async (c) => { chunks.push(c.slice()); }, opts);
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let p = 0;
  for (const c of chunks) { out.set(c, p); p += c.length; }
  return out;
}

/**
 * Load `path` (an .npz from saveNpz, numpy's savez or Chainer's save_npz) into `target`.
 * Every value the target asks for is read, its shape and dtype checked against the target's
 * (floats load into float32 or float64 as Chainer's copy does; floats never load into int32),
 * and only when the whole file has passed are the values assigned: a failed load leaves the
 * target unchanged. A parameter not yet initialised takes the stored shape. Errors name the
 * file and what is wrong: `loadNpz: model.npz: key 'l1/W' has shape (3, 4), expected (100, 784)`.
 * Only the directory and the members the target asks for are read, so files of any size load
 * (each member up to 4 GiB, Node's largest buffer).
 */
export async function loadNpz(path: string, target: Serializable, opts: LoadNpzOptions = {}): Promise<void> {
  const where = `loadNpz: ${path}`;
  let fh: FileHandle;
  let length: number;
  try {
    fh = await open(path, 'r');
    length = (await fh.stat()).size;
  } catch (e) {
    throw new Error(`${where}: cannot read the file: ${(e as Error).message}`);
  }
  try {
    loadFrom(fileSource(fh.fd, length, where), target, opts, where);
  } finally {
    await fh.close();
  }
}

/** loadNpz from bytes in memory; `name` stands for the file in error messages. */
export function loadNpzBytes(bytes: Uint8Array, target: Serializable, opts: LoadNpzOptions & { name?: string } = {}): void {
  loadFrom(memorySource(bytes), target, opts, `loadNpz: ${opts.name ?? '<bytes>'}`);
}

function loadFrom(src: ByteSource, target: Serializable, opts: LoadNpzOptions, where: string): void {
  const members = new Map<string, ZipEntry>();
  for (const e of readZipDirectory(src, where)) members.set(e.name.endsWith('.npy') ? e.name.slice(0, -4) : e.name, e);
  const pending: (() => void)[] = [];
  const read = (key: string): NpyView | undefined => {
    const e = members.get(key);
    if (e === undefined) return undefined;
    return parseNpy(readZipEntry(src, e, where), `${where}: entry '${e.name}'`, e.dataOffset);
  };
  target.serialize(new NpzLoader({ where, read, pending, strict: opts.strict ?? true }, opts.path ?? ''));
  // every check has passed: only now does the target change
  for (const assign of pending) assign();
}

/**
 * A file read where the directory points, synchronously (a load is one step that must not
 * interleave with training), so only the members a target asks for are read and files of
 * any size load.
 */
function fileSource(fd: number, length: number, where: string): ByteSource {
  return {
    length,
    read(offset, n) {
      const b = Buffer.allocUnsafe(n);
      for (let done = 0; done < n;) {
        const got = readSync(fd, b, done, Math.min(n - done, 1 << 30), offset + done);
        if (got === 0) throw new Error(`${where}: the file ended at ${offset + done} bytes while reading (it changed during the load?)`);
        done += got;
      }
      return b;
    },
  };
}

// ---- saving ---------------------------------------------------------------------------------

const joinKey = (prefix: string, key: string) => prefix + key.replace(/^\/+/, '');
const childPrefix = (prefix: string, name: string) => `${prefix}${name.replace(/^\/+|\/+$/g, '')}/`;

function capture(target: Serializable, where: string): Map<string, Captured> {
  const entries = new Map<string, Captured>();
  const put = (key: string, c: Captured) => {
    if (entries.has(key)) throw new Error(`${where}: key '${key}' is saved twice`);
    entries.set(key, c);
  };
  target.serialize(new NpzSaver(put, '', where));
  return entries;
}

class NpzSaver implements Serializer {
  readonly loading = false;
  constructor(private readonly put: (key: string, c: Captured) => void, private readonly prefix: string, private readonly where: string) {}

  child(name: string): Serializer { return new NpzSaver(this.put, childPrefix(this.prefix, name), this.where); }

  array(key: string, current: NDArray | null): void {
    const k = joinKey(this.prefix, key);
    if (current === null) throw new Error(`${this.where}: key '${k}' has no array to save`);
    // CPU values are copied now and GPU reads queued now, so later updates cannot leak in
    const data = current.device === 'cpu' ? Promise.resolve(current.toFlat()) : current.data();
    this.put(k, { dtype: current.dtype, shape: current.shape.slice(), data });
  }

  number(key: string, current: number): void {
    const k = joinKey(this.prefix, key);
    if (typeof current !== 'number') throw new Error(`${this.where}: key '${k}' is ${typeof current}, expected a number`);
    this.put(k, { dtype: 'float64', shape: [], data: Promise.resolve(new Float64Array([current])) });
  }
}

async function writeNpz(entries: Map<string, Captured>, put: (c: Uint8Array) => Promise<void>, opts: SaveNpzOptions): Promise<void> {
  const zip = new ZipWriter(put, { compress: opts.compression, zip64Limit: opts.zip64Limit });
  for (const [key, c] of entries) await zip.add(`${key}.npy`, [npyHeader(c.dtype, c.shape), bytesOf(await c.data)]);
  await zip.finish();
}

// ---- loading --------------------------------------------------------------------------------

interface LoadContext {
  readonly where: string;
  readonly read: (key: string) => NpyView | undefined;
  readonly pending: (() => void)[];
  readonly strict: boolean;
}

class NpzLoader implements Serializer {
  readonly loading = true;
  constructor(private readonly ctx: LoadContext, private readonly prefix: string) {}

  child(name: string): Serializer { return new NpzLoader(this.ctx, childPrefix(this.prefix, name)); }

  private find(key: string): [string, NpyView | undefined] {
    const k = joinKey(this.prefix, key);
    const v = this.ctx.read(k);
    if (v === undefined && this.ctx.strict) throw new Error(`${this.ctx.where}: key '${k}' is missing`);
    return [k, v];
  }

  array(key: string, current: NDArray | null, assign: (loaded: NDArray) => void): void {
    const [k, v] = this.find(key);
    if (v === undefined) return;
    const { where } = this.ctx;
    if (current !== null) {
      if (v.shape.length !== current.ndim || v.shape.some((n, i) => n !== current.shape[i])) {
        throw new Error(`${where}: key '${k}' has shape ${shapeStr(v.shape)}, expected ${shapeStr(current.shape)}`);
      }
      if (!canCast(v.kind, current.dtype)) {
        throw new Error(`${where}: key '${k}' has dtype '${v.descr}', expected ${current.dtype} (floats do not load into integer arrays)`);
      }
    }
    const dtype = current?.dtype ?? naturalDType(v.kind);
    const loaded = new NDArray(toTyped(v, dtype, `${where}: key '${k}'`), v.shape.slice());
    this.ctx.pending.push(() => assign(loaded));
  }

  number(key: string, _current: number, assign: (loaded: number) => void): void {
    const [k, v] = this.find(key);
    if (v === undefined) return;
    if (v.size !== 1) throw new Error(`${this.ctx.where}: key '${k}' has shape ${shapeStr(v.shape)}, expected a single number`);
    const x = toTyped(v, 'float64', `${this.ctx.where}: key '${k}'`)[0];
    this.ctx.pending.push(() => assign(x));
  }
}
