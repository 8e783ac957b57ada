// argmax / argmin on arrays: the CPU loop and the WGSL kernel, first index winning ties on both.

import { collapse } from '../../../compiler/js.js';
import { packParams } from '../../../compiler/wgsl.js';
import { kernelFor, type DeviceKernels } from '../../array/backend.js';
import { NDArray, sizeOf } from '../../array/ndarray.js';
import { WG, decompose, elementType, flatMain, kernel, range, u32, type Params } from '../../array/webgpu/kernel.js';
import { cached, empty, launch } from '../../array/webgpu/launch.js';

type ArgKind = 'argmax' | 'argmin';

/** Index of the max (or min) along `axis`; first one wins on ties, as in numpy. */
function argReduceCpu(kind: ArgKind, x: NDArray, axis: number): NDArray {
  const outShape = x.shape.filter((_, d) => d !== axis);
  const out = new Int32Array(sizeOf(outShape));
  const n = x.shape[axis], step = x.strides[axis];
  const others = x.shape.map((_, d) => d).filter((d) => d !== axis);
  // numpy: the first of equal values stays, and the first NaN wins (nothing beats it)
  const better = kind === 'argmax'
    ? (a: number, b: number) => b === b && (a > b || a !== a)
    : (a: number, b: number) => b === b && (a < b || a !== a);
  let o = 0;
  const walk = (i: number, p: number) => {
    if (i === others.length) {
      let best = 0, bv = x.buffer[p];
      for (let j = 1; j < n; j++) {
        const v = x.buffer[p + j * step];
        if (better(v, bv)) { bv = v; best = j; }
      }
      out[o++] = best;
      return;
    }
    const d = others[i];
    for (let j = 0; j < x.shape[d]; j++) walk(i + 1, p + j * x.strides[d]);
  };
  walk(0, x.offset);
  return new NDArray(out, outShape);
}

/** int32 index of the max (min) along `axis`, the axis removed; the first wins on ties. */
function argReduceWebgpu(kind: ArgKind, x: NDArray, axis: number): NDArray {
  const outShape = x.shape.filter((_, d) => d !== axis);
  const out = empty(outShape, 'int32');
  if (out.size === 0) return out;
  const others = x.shape.map((_, d) => d).filter((d) => d !== axis);
  const layout = collapse({ shape: others.map((d) => x.shape[d]), strides: [others.map((d) => x.strides[d])], offsets: [x.offset] });
  const rank = layout.shape.length;
  const type = elementType(x.dtype);
  const kern = cached(`${kind}|${type}|${rank}`, () => {
    const params: Params = [u32('n'), u32('len'), u32('step'), u32('xo'), ...range(rank).flatMap((d) => [u32(`n${d}`), u32(`s${d}`)])];
    // numpy's semantics, as on the CPU: the first of equal values stays, and the first NaN
    // wins (tested on the bits, which no fast-math folding can assume away)
    const nan = (v: string) => (type === 'i32' ? 'false' : `((bitcast<u32>(${v}) & 0x7fffffffu) > 0x7f800000u)`);
    const body = `${flatMain(WG)}
${decompose('i', 'i', rank, 'n')}
  let base = p.xo + ${range(rank).map((d) => `i${d} * p.s${d}`).join(' + ')};
  var best = 0u;
  var bv = X[base];
  for (var j = 1u; j < p.len; j++) {
    let v = X[base + j * p.step];
    let better = !${nan('bv')} && (v ${kind === 'argmax' ? '>' : '<'} bv || ${nan('v')});
    bv = select(bv, v, better);
    best = select(best, j, better);
  }
  Y[i] = i32(best);
}`;
    return kernel(kind, [{ name: 'X', type, role: 'input' }, { name: 'Y', type: 'i32', role: 'output' }], params, WG, body);
  });
  const v: Record<string, number> = { n: out.size, len: x.shape[axis], step: x.strides[axis], xo: x.offset };
  layout.shape.forEach((s, d) => {
    v[`n${d}`] = s;
    v[`s${d}`] = layout.strides[0][d];
  });
  launch(kern, [x, out], packParams(kern, v), out.size);
  return out;
}

const ARG_REDUCE: DeviceKernels<(kind: ArgKind, x: NDArray, axis: number) => NDArray> = { cpu: argReduceCpu, webgpu: argReduceWebgpu };

/** int32 index of the max along `axis` of an array (axis removed), on its device. */
export const argmaxArray = (x: NDArray, axis: number): NDArray => kernelFor(ARG_REDUCE, x.device)('argmax', x, axis);
/** int32 index of the min along `axis` of an array (axis removed), on its device. */
export const argminArray = (x: NDArray, axis: number): NDArray => kernelFor(ARG_REDUCE, x.device)('argmin', x, axis);
