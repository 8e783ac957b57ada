// Hand-written WGSL kernels for the ops that are not elementwise: matmul, argmax, gather/scatter, random.

import type { NDArray, DType } from '../ndarray.js';
import type { RandomState } from '../random.js';

const todo = (op: string): never => { throw new Error(`webgpu: ${op} is not implemented on the GPU yet`); };

export function matmul(_a: NDArray, _b: NDArray, _dtype: DType): NDArray { return todo('matmul'); }
export function argReduce(kind: 'argmax' | 'argmin', _x: NDArray, _axis: number): NDArray { return todo(kind); }
export function selectItem(_x: NDArray, _t: NDArray): NDArray { return todo('selectItem'); }
export function scatterItem(_gy: NDArray, _t: NDArray, _shape: readonly number[]): NDArray { return todo('scatterItem'); }
export function randomUniform(_shape: readonly number[], _low: number, _high: number, _dtype: DType, _rng: RandomState): NDArray {
  return todo('randomUniform');
}
