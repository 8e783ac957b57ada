// The CPU backend: typed arrays in this process, generated loops from cpu/kernels.ts.

import { BACKENDS, dispatchStats, elementwiseReduced, type Backend } from '../backend.js';
import { NDArray, TYPED, sizeOf } from '../ndarray.js';
import * as kernels from './kernels.js';
import { wasmAxpy, wasmEnabled } from './wasm-matmul.js';

/**
 * Every pair in ONE wasm loop (each y staged before any is written, so an x may alias a y),
 * but no two ys in one buffer: the loop would write back one's stale copy over the other's update.
 */
function axpy(alpha: number, xs: readonly NDArray[], ys: readonly NDArray[]): boolean {
  if (!wasmEnabled() || new Set(ys.map((y) => y.buffer)).size !== ys.length || !wasmAxpy(alpha, xs, ys)) return false;
  dispatchStats.count++;
  return true;
}

const NOTHING_RECORDED: ReadonlySet<never> = new Set();
const STOP = (): ReadonlySet<never> => NOTHING_RECORDED;

export const cpu: Backend = {
  device: 'cpu',
  fromHost: (data, shape) => new NDArray(data.slice(), shape.slice()),
  toHost: async (x) => x.toFlat(),
  full: (shape, value, dtype) => new NDArray(new TYPED[dtype](sizeOf(shape)).fill(value), shape.slice()),
  elementwise: (roots, inputs, scalars, shape, dtype, outs, reduceTo) => (reduceTo === undefined
    ? kernels.elementwise(roots, inputs, scalars, shape, dtype, outs)
    : elementwiseReduced(cpu, kernels.elementwise, roots, inputs, scalars, shape, dtype, outs, reduceTo)),
  reduce: kernels.reduce,
  // generated JS loops and wasm modules compile at first use in well under a millisecond
  precompile: async () => 0,
  axpy,
  memory: {
    // typed arrays are ordinary JS memory: the collector frees them, and needs no help
    record: () => STOP,
    pin: () => {},
    release: () => {},
  },
};

BACKENDS.cpu = cpu;
