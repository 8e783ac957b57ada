// The argument checks convolution2d and deconvolution2d share once their shapes agree.

import { deviceOf } from '../../array/backend.js';
import type { Variable } from '../../graph/variable.js';
import { pair, type Geometry, type Pair } from './im2col.js';

/**
 * What convolution2d and deconvolution2d check alike once the shapes agree: x, W and b (if
 * given) are float arrays of one dtype on one device. Returns the window's stride, pad and
 * dilation, each given as a number or an (h, w) pair.
 */
export function floatArgsAndWindow(op: string, xv: Variable, Wv: Variable, bv: Variable | undefined, opts: { stride?: Pair; pad?: Pair; dilate?: Pair }): Omit<Geometry, 'kh' | 'kw' | 'groups'> {
  const all = bv === undefined ? [xv, Wv] : [xv, Wv, bv];
  const dtypes = () => all.map((v, i) => `${['x', 'W', 'b'][i]} ${v.dtype}`).join(', ');
  if (all.some((v) => v.dtype === 'int32')) throw new Error(`${op}: expected float arrays, got ${dtypes()}`);
  if (all.some((v) => v.dtype !== xv.dtype)) throw new Error(`${op}: dtypes differ: ${dtypes()}`);
  deviceOf(all.map((v) => v.data), op, ['x', 'W', 'b']);
  const [sy, sx] = pair(op, 'stride', opts.stride ?? 1, 1);
  const [ph, pw] = pair(op, 'pad', opts.pad ?? 0, 0);
  const [dy, dx] = pair(op, 'dilate', opts.dilate ?? 1, 1);
  return { sy, sx, ph, pw, dy, dx };
}
