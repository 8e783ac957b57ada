// selectItem / scatterItem on arrays: the CPU loops and the WGSL kernels.

import { packParams } from '../../../compiler/wgsl.js';
import { deviceOf, kernelFor, type DeviceKernels } from '../../array/backend.js';
import { NDArray, TYPED } from '../../array/ndarray.js';
import { WG, elementType, flatMain, kernel, u32 } from '../../array/webgpu/kernel.js';
import { cached, empty, launch } from '../../array/webgpu/launch.js';

/** y[i, ...] = x[i, t[i, ...], ...] along axis 1 (Chainer's select_item, generalised). */
function selectItemCpu(x: NDArray, t: NDArray): NDArray {
  const [n, c] = x.shape;
  const out = new TYPED[x.dtype](n);
  const tv = t.toFlat();
  for (let i = 0; i < n; i++) {
    const j = tv[i];
    out[i] = j >= 0 && j < c ? x.buffer[x.offset + i * x.strides[0] + j * x.strides[1]] : 0;
  }
  return new NDArray(out, [n]);
}

/** The adjoint of selectItem: zeros of `shape` with gy[i] placed at [i, t[i]]. */
function scatterItemCpu(gy: NDArray, t: NDArray, shape: readonly number[]): NDArray {
  const [n, c] = shape;
  const out = new TYPED[gy.dtype](n * c);
  const tv = t.toFlat(), g = gy.toFlat();
  for (let i = 0; i < n; i++) {
    const j = tv[i];
    if (j >= 0 && j < c) out[i * c + j] = g[i];
  }
  return new NDArray(out, shape);
}

function checkLabels(t: NDArray, op: string): void {
  if (t.dtype !== 'int32') throw new Error(`${op}: t must be an int32 array of indices, got ${t.dtype}`);
}

/** y[i] = x[i, t[i]] for x (N, C), t int32 (N,); a label outside [0, C) gives 0. */
function selectItemWebgpu(x: NDArray, t: NDArray): NDArray {
  checkLabels(t, 'selectItem');
  const [n, c] = x.shape;
  const out = empty([n], x.dtype);
  if (n === 0) return out;
  const type = elementType(x.dtype);
  const kern = cached(`selectItem|${type}`, () => kernel('selectItem', [
    { name: 'X', type, role: 'input' }, { name: 'T', type: 'i32', role: 'input' }, { name: 'Y', type, role: 'output' },
  ], [u32('n'), u32('c'), u32('xo'), u32('xs0'), u32('xs1'), u32('to'), u32('ts')], WG, `${flatMain(WG)}
  let j = T[p.to + i * p.ts];
  var v = ${type}();
  if (j >= 0 && u32(j) < p.c) { v = X[p.xo + i * p.xs0 + u32(j) * p.xs1]; }
  Y[i] = v;
}`));
  const params = packParams(kern, { n, c, xo: x.offset, xs0: x.strides[0], xs1: x.strides[1], to: t.offset, ts: t.strides[0] });
  launch(kern, [x, t, out], params, n);
  return out;
}

/** Zeros of `shape` (N, C) with gy[i] at [i, t[i]]; a label outside [0, C) writes nothing. */
function scatterItemWebgpu(gy: NDArray, t: NDArray, shape: readonly number[]): NDArray {
  checkLabels(t, 'scatterItem');
  const [n, c] = shape;
  const out = empty(shape, gy.dtype);
  if (n * c === 0) return out;
  const type = elementType(gy.dtype);
  // one invocation per output element: zeros and the scattered values in one pass
  const kern = cached(`scatterItem|${type}`, () => kernel('scatterItem', [
    { name: 'G', type, role: 'input' }, { name: 'T', type: 'i32', role: 'input' }, { name: 'Y', type, role: 'output' },
  ], [u32('n'), u32('c'), u32('go'), u32('gs'), u32('to'), u32('ts')], WG, `${flatMain(WG)}
  let row = i / p.c;
  let j = T[p.to + row * p.ts];
  var v = ${type}();
  if (j >= 0 && u32(j) == i % p.c) { v = G[p.go + row * p.gs]; }
  Y[i] = v;
}`));
  const params = packParams(kern, { n: n * c, c, go: gy.offset, gs: gy.strides[0], to: t.offset, ts: t.strides[0] });
  launch(kern, [gy, t, out], params, n * c);
  return out;
}

const SELECT_ITEM: DeviceKernels<(x: NDArray, t: NDArray) => NDArray> = { cpu: selectItemCpu, webgpu: selectItemWebgpu };
const SCATTER_ITEM: DeviceKernels<(gy: NDArray, t: NDArray, shape: readonly number[]) => NDArray> = { cpu: scatterItemCpu, webgpu: scatterItemWebgpu };

/** y[i] = x[i, t[i]] on arrays (x (N, C), t int32 (N,)); a label outside [0, C) gives 0. */
export function selectItemArray(x: NDArray, t: NDArray): NDArray {
  return kernelFor(SELECT_ITEM, deviceOf([x, t], 'selectItem', ['x', 't']))(x, t);
}

/** The adjoint of selectItemArray: zeros of `shape` (N, C) with gy[i] at [i, t[i]]. */
export function scatterItemArray(gy: NDArray, t: NDArray, shape: readonly number[]): NDArray {
  return kernelFor(SCATTER_ITEM, deviceOf([gy, t], 'scatterItem', ['gy', 't']))(gy, t, shape);
}
