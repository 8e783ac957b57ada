// The CPU backend: typed arrays in this process, generated loops from cpu/kernels.ts.

import { BACKENDS, dispatchStats, elementwiseReduced, type Backend } from '../backend.js';
import { NDArray, TYPED, sizeOf } from '../ndarray.js';
import * as kernels from './kernels.js';
import { residentCopy, wasmAxpy, wasmEnabled } from './wasm-matmul.js';

/**
 * Every pair in ONE wasm loop (each y staged before any is written, so an x may alias a y),
 * but no two ys in one buffer: the loop would write back one's stale copy over the other's update.
 */
function axpy(alpha: number, xs: readonly NDArray[], ys: readonly NDArray[]): boolean {
  if (!wasmEnabled() || new Set(ys.map((y) => y.buffer)).size !== ys.length || !wasmAxpy(alpha, xs, ys)) return false;
  dispatchStats.count++;
  return true;
}

/**
 * CPU arrays are JS memory from the C library's malloc. glibc serves a block of 128 KiB or more
 * with its own mmap and unmaps it at free, and trims a free top of its heap past 128 KiB, so a
 * loop's larger arrays can come back as fresh pages every step, each one faulting at its first
 * write. Measured on linear's backward alone, repeated (a 100 x 784 weight gradient, 313 KiB, on
 * a 2-core VM, where a fault is a trip through the hypervisor): allocating the gradient took
 * 76 us and filling it 99 us, against 22 and 14 us in reused memory, and the whole backward
 * 378 against 242 us. Freeing one mmap-served block raises both limits to its size (mallopt(3),
 * the dynamic M_MMAP_THRESHOLD), so one untouched 30 MiB block, dropped at once, lets blocks
 * below 30 MiB come from a heap that keeps up to 60 MiB free for reuse. The collector frees it
 * in the program's first steps. Elsewhere than glibc it is one short-lived allocation.
 */
const MALLOC_TEACHER_BYTES = 30 * 2 ** 20;
if (globalThis.process?.platform === 'linux') {
  try {
    void new ArrayBuffer(MALLOC_TEACHER_BYTES);
  } catch {
    // no 30 MiB to spare (a strict overcommit limit): malloc keeps its defaults, nothing else changes
  }
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
  resident: residentCopy,
  memory: {
    // typed arrays are ordinary JS memory: the collector frees them, and needs no help
    record: () => STOP,
    pin: () => {},
    release: () => {},
  },
};

BACKENDS.cpu = cpu;
