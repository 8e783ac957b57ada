// F.embedId: rows of W picked by integer ids, as a one-hot matmul (so backward, double backward and both devices come free).

import { input, scalar } from '../../compiler/expr.js';
import { deviceOf } from '../array/backend.js';
import { NDArray, shapeStr, type Device } from '../array/ndarray.js';
import { pin } from '../array/pin.js';
import { arange, elementwise } from '../array/xp.js';
import { Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { matmul } from './matmul.js';
import { reshape } from './shape.js';
import { checkOptions, INTEGER } from './options.js';

export interface EmbedIdOptions {
  /** Ids equal to this give a zero row and no gradient (Chainer's ignore_label). */
  ignoreLabel?: number;
}

/** 0 .. n-1 as an int32 row (1, n) per device, kept: every call for a vocabulary compares against it. */
const IOTA = new Map<string, NDArray>();
function iota(n: number, device: Device): NDArray {
  const key = `${device}:${n}`;
  let a = IOTA.get(key);
  if (a === undefined) IOTA.set(key, (a = pin(arange(0, n, 1, 'int32').reshape([1, n]).to(device))));
  return a;
}

/**
 * y = W[x]: for int32 ids x of any shape and W (V, D), y has shape x.shape + (D,)
 * (Chainer's F.embed_id). Written as onehot(x) @ W: the one-hot rows are built on the
 * device by comparing ids with 0..V-1, so the gradient of W (onehot^T @ gy, a scatter-add)
 * and double backward come from matmul on either device. Its cost is that of a Linear
 * layer of V inputs, about what the output layer of a language model costs already.
 */
export function embedId(x: VariableLike, W: VariableLike, opts: EmbedIdOptions = {}): Variable {
  checkOptions('embedId', opts, { ignoreLabel: INTEGER });
  const { ignoreLabel } = opts;
  const xv = argVariable(x, 'embedId', 'x'), w = argVariable(W, 'embedId', 'W');
  if (xv.dtype !== 'int32') throw new Error(`embedId: x must be an int32 array of ids, got ${xv.dtype} x ${shapeStr(xv.shape)}`);
  if (w.ndim !== 2) throw new Error(`embedId: W must be 2-D (V, D), got W ${shapeStr(w.shape)}`);
  if (w.dtype === 'int32') throw new Error(`embedId: W must be a float array, got int32 W ${shapeStr(w.shape)}`);
  const device = deviceOf([xv.data, w.data], 'embedId', ['x', 'W']);
  const [vocab, dim] = w.shape;
  // Checking ids means reading them; on a GPU that would stall every step, so there an
  // out-of-range id gives a zero row (as softmaxCrossEntropy treats a bad label).
  if (device === 'cpu') {
    for (const id of xv.data.toFlat()) {
      if (id !== ignoreLabel && (id < 0 || id >= vocab)) {
        throw new Error(`embedId: id ${id} in x is outside [0, ${vocab}) for W ${shapeStr(w.shape)}${ignoreLabel === undefined ? '' : ` and is not the ignore label ${ignoreLabel}`}`);
      }
    }
  }
  const ids = xv.data.reshape([xv.size, 1]);
  const hit = input(0).eq(input(1));
  const [onehot] = elementwise([ignoreLabel === undefined ? hit : hit.mul(input(0).ne(scalar(0)))], [ids, iota(vocab, device)],
    ignoreLabel === undefined ? [] : [ignoreLabel], { dtype: w.dtype, op: 'embedId' });
  return reshape(matmul(onehot, w), [...xv.shape, dim]);
}
