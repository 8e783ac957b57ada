// Runs float32 elementwise kernels through generated SIMD WebAssembly: picks the operand
// layout class, stages operands in one wasm memory, calls, copies results out (the module
// itself comes from compiler/wasm/elementwise.ts).

import type { Expr } from '../../../compiler/expr.js';
import type { Layout, NumArray } from '../../../compiler/js.js';
import { exprKey, renderWasmElementwise, wasmRenders, type OperandKind } from '../../../compiler/wasm/elementwise.js';
import { wasmEnabled } from './wasm-matmul.js';

/**
 * Below this many positions the JS loop wins: staging operands into wasm memory and results
 * out, plus the call, cost a few microseconds. Measured on one x86-64 core (Node 20, medians,
 * same run): at 256 wasm ran 0.5-0.8x the JS loop's speed, at 1024 0.7-1.3x (a lone add
 * lost, a 6-op chain won), from 2048 up 1.7-2.4x, at 64K 5-6x.
 */
let minSize = Number(globalThis.process?.env?.KUSARI_WASM_MIN_SIZE ?? 2048); // env: run test suites wholly in wasm

/** Set the size from which float32 elementwise kernels run in wasm (tests use 0); returns the old one. */
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

/** Kernels run in wasm so far (tests check a case really took this path). */
export const wasmElementwiseStats = { count: 0 };

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
 * Each input's kind over a collapsed layout (rank 1 or 2, inputs then outputs), or undefined
 * when some operand is walked another way (a transposed or stepped view, a padded row): those
 * stay on the JS loop. Outputs must be contiguous.
 */
export function operandKinds(layout: Layout, nInputs: number): OperandKind[] | undefined {
  const rank = layout.shape.length;
  if (rank > 2) return undefined;
  const cols = layout.shape[rank - 1];
  const kinds: OperandKind[] = [];
  for (let k = 0; k < layout.strides.length; k++) {
    // a single position (collapse leaves stride 0 everywhere) is contiguous for every operand
    const s = rank === 1 && cols === 1 ? 1 : layout.strides[k][0];
    const [s0, s1] = rank === 1 ? [s * cols, s] : layout.strides[k];
    let kind: OperandKind | undefined;
    if (s1 === 1 && s0 === cols) kind = 'full';
    else if (s1 === 0 && s0 === 0) kind = 'scalar';
    else if (s1 === 1 && s0 === 0) kind = 'row';
    else if (s1 === 0) kind = 'col';
    if (kind === undefined || (k >= nInputs && kind !== 'full')) return undefined;
    if (k < nInputs) kinds.push(kind);
  }
  return kinds;
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
  const rows = rank === 1 ? 1 : layout.shape[0], cols = layout.shape[rank - 1];
  const size = rows * cols;
  if (size < minSize || size === 0 || !wasmEnabled()) return false;
  if (!arrays.every((a) => a instanceof Float32Array)) return false;
  const kinds = operandKinds(layout, nIn);
  if (kinds === undefined) return false;
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
    if (kinds[k] === 'col') {
      const s0 = layout.strides[k][0];
      for (let r = 0; r < rows; r++) h[at[k] + r] = src[off + r * s0];
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
