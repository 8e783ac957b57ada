// CPU reductions against loops written from the definition: the unrolled paths (long contiguous runs) and the generated loop alike.

import test from 'ava';
import { RandomState } from '../../runtime/array/random.js';
import { NDArray } from '../../runtime/array/ndarray.js';
import { reduce } from '../../runtime/array/xp.js';
import { allclose } from '../helpers.js';

/** op over `axes` of x, by walking every element: the output index drops the reduced axes. */
function refReduce(op: 'sum' | 'max' | 'min', x: NDArray, axes: number[]): number[] {
  const flat = x.toFlat(), shape = x.shape;
  const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const out = new Array<number>(kept.reduce((p, d) => p * shape[d], 1)).fill(op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity);
  const idx = new Array<number>(shape.length).fill(0);
  // flat is C order over x's own shape (toFlat walks the view)
  for (let i = 0; i < flat.length; i++) {
    let r = i;
    for (let d = shape.length - 1; d >= 0; d--) { idx[d] = r % shape[d]; r = Math.floor(r / shape[d]); }
    const o = kept.reduce((p, d) => p * shape[d] + idx[d], 0);
    const v = flat[i], a = out[o];
    out[o] = op === 'sum' ? a + v : Number.isNaN(a) || Number.isNaN(v) ? NaN : op === 'max' ? Math.max(a, v) : Math.min(a, v);
  }
  return out;
}

function sample(shape: number[], seed: number, dtype: 'float32' | 'float64' | 'int32'): NDArray {
  const rng = new RandomState(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === 'int32' ? Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * 200 - 100))
    : dtype === 'float32' ? Float32Array.from({ length: n }, () => rng.normal()) : Float64Array.from({ length: n }, () => rng.normal());
  return new NDArray(data, shape);
}

const SHAPES = [[1000, 1000], [7, 33, 64], [3, 5, 2, 130], [64], [31, 40], [200, 3]];

test('reduce (CPU): sum, max and min over every axis set, float32/float64/int32, equal the definition', (t) => {
  for (const [k, shape] of SHAPES.entries()) {
    const sets = [...shape.keys()].map((d) => [d]).concat([[...shape.keys()]], shape.length > 2 ? [[0, shape.length - 1], [1]] : []);
    for (const dtype of ['float32', 'float64', 'int32'] as const) {
      const x = sample(shape, k, dtype);
      for (const op of ['sum', 'max', 'min'] as const) {
        // float32 results are the float64 sum rounded once
        for (const axes of sets) allclose(t, reduce(op, x, axes), refReduce(op, x, axes), { atol: 1e-9, rtol: dtype === 'float32' ? 1e-7 : 1e-12 });
      }
    }
  }
});

test('reduce (CPU): transposed and sliced views, and NaN kept by max and min on the unrolled paths', (t) => {
  const x = sample([300, 200], 9, 'float32');
  for (const v of [x.transpose(), x.view([300, 100], [200, 1], 50)]) {
    for (const axes of [[0], [1], [0, 1]]) allclose(t, reduce('sum', v, axes), refReduce('sum', v, axes), { atol: 1e-9, rtol: 1e-7 });
  }
  const y = sample([4, 100], 3, 'float64');
  (y.buffer as Float64Array)[150] = NaN;
  for (const op of ['max', 'min', 'sum'] as const) {
    for (const axes of [[0], [1], [0, 1]]) allclose(t, reduce(op, y, axes), refReduce(op, y, axes), { atol: 1e-12, rtol: 1e-12 });
  }
});
