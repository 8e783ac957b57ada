// Weight initializers: each fills an array of a given shape (Chainer's initializers).

import { NDArray, sizeOf, type DType } from '../array/ndarray.js';
import { randomUniform } from '../array/random-uniform.js';
import { full, randomNormal } from '../array/xp.js';

export type Initializer = (shape: readonly number[], dtype: DType) => NDArray;

/** fan_in, fan_out as Chainer counts them: (out, in, k...) -> in * prod(k), out * prod(k). */
export function fans(shape: readonly number[]): [number, number] {
  if (shape.length < 2) throw new Error(`initializer: fan needs a shape of at least 2 dims, got (${shape.join(', ')})`);
  const receptive = sizeOf(shape.slice(2));
  return [shape[1] * receptive, shape[0] * receptive];
}

export const constant = (value: number): Initializer => (shape, dtype) => full(shape, value, dtype);
export const zero: Initializer = constant(0);
export const one: Initializer = constant(1);
export const normal = (scale = 0.05): Initializer => (shape, dtype) => randomNormal(shape, 0, scale, { dtype });
export const uniform = (scale = 0.05): Initializer => (shape, dtype) => randomUniform(shape, -scale, scale, { dtype });
/** N(0, scale^2 / fan_in): Chainer's default for Linear and Convolution2D. */
export const lecunNormal = (scale = 1): Initializer => (shape, dtype) => randomNormal(shape, 0, scale * Math.sqrt(1 / fans(shape)[0]), { dtype });
/** N(0, 2 scale^2 / fan_in), for ReLU networks. */
export const heNormal = (scale = 1): Initializer => (shape, dtype) => randomNormal(shape, 0, scale * Math.sqrt(2 / fans(shape)[0]), { dtype });
/** U(-s, s) with s = scale sqrt(6 / (fan_in + fan_out)). */
export const glorotUniform = (scale = 1): Initializer => (shape, dtype) => {
  const [fi, fo] = fans(shape);
  const s = scale * Math.sqrt(6 / (fi + fo));
  return randomUniform(shape, -s, s, { dtype });
};
