// Caffe test helpers: the shared reference folders (skipped outside CI, required in CI) and a minimal .npy reader.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Declare } from '../helpers.js';
import { NDArray } from '../../runtime/array/ndarray.js';

/** ../shared/caffe from the repository root. */
export const SHARED_CAFFE = fileURLToPath(new URL('../../../shared/caffe/', import.meta.url));

const inCi = (env: { CI?: string } = process.env) => env.CI !== undefined && !['', '0', 'false'].includes(env.CI.toLowerCase());

/**
 * The path of the shared folder `name`, or null when it is missing: then one test is
 * declared that is skipped with the reason, or, under CI, fails with it.
 */
export function sharedFolder(test: Declare, name: string, env: { CI?: string } = process.env, root = SHARED_CAFFE): string | null {
  const dir = `${root}${name}`;
  if (existsSync(dir)) return dir;
  const reason = `the reference folder ${dir} is missing (it is ../shared/caffe/${name} from the repository root)`;
  if (inCi(env)) test(`caffe fixtures: ${name}`, (t) => t.fail(`${reason}; CI requires it`));
  else test.skip(`caffe fixtures: ${name} (skipped: ${reason})`, () => {});
  return null;
}

/** A little-endian float32/float64/int32 C-order .npy file (numpy's format, versions 1 to 3). */
export function readNpy(path: string): NDArray {
  const buf = readFileSync(path);
  if (buf.length < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf.readUInt8(6);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new Error(`${path}: bad .npy header ${header}`);
  if (fortran === 'True') throw new Error(`${path}: Fortran order is not supported`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const bytes = buf.subarray(start + headerLen);
  const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const data = descr === '<f4' ? new Float32Array(copy) : descr === '<f8' ? new Float64Array(copy) : descr === '<i4' ? new Int32Array(copy) : null;
  if (data === null) throw new Error(`${path}: dtype ${descr} is not supported`);
  if (data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`${path}: ${data.length} values for shape (${shape.join(', ')})`);
  return new NDArray(data, shape);
}

/**
 * Where `actual` and `expected` differ by more than `rtol` relative: |a - b| <= rtol (|b| + 0.01 max|b|),
 * so elements near zero are held to the output's scale. Returns a description, or null.
 */
export function relativeMismatch(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-4): string | null {
  if (actual.length !== expected.length) return `${actual.length} values, expected ${expected.length}`;
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], b = expected[i];
    if (!(Math.abs(a - b) <= rtol * (Math.abs(b) + 0.01 * maxAbs))) return `element ${i}: ${a}, expected ${b} (max |expected| ${maxAbs})`;
  }
  return null;
}
