// Runs float32 elementwise kernels through generated SIMD WebAssembly: picks each operand's
// layout class, stages operands in one wasm memory (gathering strided and broadcast views of
// any rank), calls, copies results out (the module itself comes from compiler/wasm/elementwise.ts).

import { topoSort, type Expr } from '../../../compiler/expr.js';
import type { Layout, NumArray } from '../../../compiler/js.js';
import { exprKey, renderWasmElementwise, wasmRenders, type OperandKind } from '../../../compiler/wasm/elementwise.js';
import { wasmEnabled } from './wasm-matmul.js';

/**
 * Below this many positions the JS loop wins: staging operands into wasm memory and results
 * out, plus the call, cost a few microseconds. A chain with exp, log, tanh or sigmoid pays
 * from a quarter of it: V8's Math.tanh costs ~20 ns an element, the SIMD approximation ~1.
 * Measured on this 2-vCPU EPYC (Node 20, JS loop / wasm in us, medians, the two alternated in
 * one process): x*0.5 at 256 7.8/7.4, at 512 9.7/8.7, at 1024 11.3/8.5; a+b at 512 8.1/6.8;
 * tanh at 64 4.6/4.2, at 128 9.9/7.5, at 1024 21.8/7.9; sigmoid and exp at 128 7.5/5.6 and
 * 8.1/7.1. (It was 2048 for every chain, from a measurement made before the SIMD
 * transcendentals, when a lone add at 1024 still lost.)
 */
let minSize = Number(globalThis.process?.env?.KUSARI_WASM_MIN_SIZE ?? 512); // env: run test suites wholly in wasm

/** Set the size from which float32 elementwise kernels run in wasm, a quarter of it for transcendental chains (tests use 0); returns the old one. */
export function setWasmMinSize(n: number): number {
  const old = minSize;
  minSize = n;
  return old;
}

type Main = (...args: number[]) => void;

let memory: WebAssembly.Memory | undefined;
let heap = new Float32Array(0);
/** content key -> instance's `main`; the key is the module's content, its name the key's hash */
const modules = new Map<string, Main>();

/** Kernels run in wasm so far, and inputs the host gathered by strides for them (tests check a case really took this path). */
export const wasmElementwiseStats = { count: 0, gathered: 0 };

/** How many distinct elementwise modules have been compiled (tests count kernels with it). */
export const wasmModuleCount = (): number => modules.size;

const getMemory = (): WebAssembly.Memory => (memory ??= new WebAssembly.Memory({ initial: 1 }));

function reserve(floats: number): Float32Array | undefined {
  const memory = getMemory();
  const need = floats * 4 - memory.buffer.byteLength;
  if (need > 0) {
    try {
      memory.grow(Math.ceil(need / 65536));
    } catch {
      return undefined;
    }
  }
  if (heap.buffer !== memory.buffer) heap = new Float32Array(memory.buffer); // growing detaches the old view
  return heap;
}

/**
 * How each input is staged for the kernel, over a collapsed layout seen as (rows, cols) with
 * rows the product of the outer dims: `kind` is its layout in wasm memory, `gather` says the
 * host walks it with its strides (an odometer) to get there rather than copying one run.
 * Contiguous, single-value and plain row inputs are copied; an input constant along the inner
 * dim is gathered to one value per row (`col`); any other walk (a transposed or stepped view,
 * a broadcast over an outer dim of a rank-3+ space) is gathered to `full` (the caller does so
 * only for chains worth it). Undefined when an output is not contiguous (the JS loop runs).
 */
export function operandKinds(layout: Layout, nInputs: number): { kind: OperandKind; gather: boolean }[] | undefined {
  const rank = layout.shape.length;
  // a single position: collapse leaves stride 0 everywhere, and every operand is one value
  if (rank === 1 && layout.shape[0] === 1) return Array.from({ length: nInputs }, () => ({ kind: 'full', gather: false }));
  const dense: number[] = [];
  for (let d = rank - 1, n = 1; d >= 0; n *= layout.shape[d--]) dense[d] = n;
  const plans: { kind: OperandKind; gather: boolean }[] = [];
  for (let k = 0; k < layout.strides.length; k++) {
    const st = layout.strides[k], inner = st[rank - 1];
    const outerZero = st.slice(0, -1).every((v) => v === 0);
    let plan: { kind: OperandKind; gather: boolean };
    if (st.every((v, d) => v === dense[d])) plan = { kind: 'full', gather: false };
    else if (k >= nInputs) return undefined;
    else if (inner === 0 && outerZero) plan = { kind: 'scalar', gather: false };
    else if (inner === 1 && outerZero) plan = { kind: 'row', gather: false };
    else if (inner === 0) plan = { kind: 'col', gather: true };
    else plan = { kind: 'full', gather: true };
    if (k < nInputs) plans.push(plan);
  }
  return plans;
}

/**
 * Copy the values of `src` at `off + sum_d idx[d] * strides[d]` over `shape`, in row-major
 * order, to `dst` from `at`: an odometer over the outer dims around a loop over the last.
 */
function gather(src: Float32Array, off: number, shape: readonly number[], strides: readonly number[], dst: Float32Array, at: number): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[at] = src[off];
    return;
  }
  const n = shape[rank - 1], s = strides[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  for (;;) {
    if (s === 1) dst.set(src.subarray(off, off + n), at);
    else for (let j = 0, o = off; j < n; j++, o += s) dst[at + j] = src[o];
    at += n;
    let d = rank - 2;
    for (; d >= 0; d--) {
      off += strides[d];
      if (++idx[d] < shape[d]) break;
      off -= strides[d] * shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

/** roots' node ids + kinds + scalar count -> `main`, or null when wasm cannot render roots */
const byIds = new Map<string, Main | null>();

/** The kernel for `roots` over these kinds, compiled on first use; undefined when not renderable. */
function mainFor(roots: readonly Expr[], kinds: readonly OperandKind[], nScalars: number): Main | undefined {
  // nodes are interned, so ids name the expression within this process: a cheap first key
  const idKey = `${roots.map((r) => r.id).join(',')}|${kinds.join(',')}|${nScalars}`;
  let main = byIds.get(idKey);
  if (main === undefined) {
    main = null;
    if (wasmRenders(roots)) {
      const key = `${exprKey(roots)}|${kinds.join(',')}|${nScalars}`;
      main = modules.get(key) ?? null;
      if (main === null) {
        const m = renderWasmElementwise(roots, kinds, nScalars);
        const instance = new WebAssembly.Instance(new WebAssembly.Module(m.bytes), { env: { memory: getMemory() } });
        main = instance.exports.main as Main;
        modules.set(key, main);
      }
    }
    byIds.set(idKey, main);
  }
  return main ?? undefined;
}

const align4 = (n: number) => (n + 3) & ~3;

const transcendentalByIds = new Map<string, boolean>();
function hasTranscendental(roots: readonly Expr[]): boolean {
  const key = roots.map((r) => r.id).join(',');
  let has = transcendentalByIds.get(key);
  if (has === undefined) {
    has = topoSort(roots).some((n) => n.op === 'exp' || n.op === 'log' || n.op === 'tanh' || n.op === 'sigmoid');
    transcendentalByIds.set(key, has);
  }
  return has;
}

/**
 * Evaluate `roots` in wasm over `arrays` (inputs, then outputs) walked as `layout` (collapsed);
 * false, having written nothing, when this case is not one it runs (the caller runs the JS
 * loop). Outputs may alias inputs: every input
 * is staged before any output is written back.
 */
export function wasmElementwise(
  roots: readonly Expr[],
  arrays: readonly NumArray[],
  scalars: readonly number[],
  layout: Layout,
): boolean {
  const nIn = arrays.length - roots.length;
  const rank = layout.shape.length;
  const cols = layout.shape[rank - 1], size = layout.shape.reduce((p, q) => p * q, 1);
  const rows = size / cols;
  if (size === 0 || (size < minSize && (size < minSize / 4 || !hasTranscendental(roots))) || !wasmEnabled()) return false;
  if (!arrays.every((a) => a instanceof Float32Array)) return false;
  const plans = operandKinds(layout, nIn);
  if (plans === undefined) return false;
  // gathering a whole input walks its strides as the JS loop would: that pays only when the
  // chain has a transcendental to do four at a time (measured, 1000x1000 transposed: tanh 26 ms
  // in wasm vs 36 ms in JS; x*2+1 and a plain copy tie or lose). A col gather is one value a row.
  if (plans.some((p) => p.gather && p.kind === 'full') && !hasTranscendental(roots)) return false;
  const kinds = plans.map((p) => p.kind);
  const main = mainFor(roots, kinds, scalars.length);
  if (main === undefined) return false;

  // memory, in floats, each region 16-byte aligned: inputs by kind, then full outputs
  const lengths = [...kinds.map((k) => (k === 'full' ? size : k === 'row' ? cols : k === 'col' ? rows : 1)), ...roots.map(() => size)];
  const at: number[] = [];
  let end = 0;
  for (const n of lengths) {
    at.push(end);
    end += align4(n);
  }
  const h = reserve(end);
  if (h === undefined) return false;
  for (let k = 0; k < nIn; k++) {
    const src = arrays[k] as Float32Array, off = layout.offsets[k];
    // a col input walks the outer dims only (its inner stride is 0)
    if (plans[k].gather) {
      const dims = kinds[k] === 'col' ? rank - 1 : rank;
      gather(src, off, layout.shape.slice(0, dims), layout.strides[k].slice(0, dims), h, at[k]);
      wasmElementwiseStats.gathered++;
    } else {
      h.set(src.subarray(off, off + lengths[k]), at[k]);
    }
  }
  main(rows, cols, ...at.map((a) => a * 4), ...scalars);
  wasmElementwiseStats.count++;
  for (let j = 0; j < roots.length; j++) {
    const k = nIn + j;
    (arrays[k] as Float32Array).set(h.subarray(at[k], at[k] + size), layout.offsets[k]);
  }
  return true;
}
