// float32 matmul on the CPU through generated SIMD WebAssembly: staging into wasm memory (or
// none, for parameters that live there), cache blocking, the split of C's columns over threads
// (matmul-threads.ts) and copy-out here, and the two callers that share one staging (linear's
// backward, SGD's axpy); the packers, the micro-kernel and the small loops around it come from
// compiler/wasm/matmul.ts.

import { encodeModule, func } from '../../../compiler/wasm/encoder.js';
import { DEFAULT_TILE, matmulModule, type Tile } from '../../../compiler/wasm/matmul.js';
import { NDArray, contiguousStrides, sizeOf, type Storage } from '../ndarray.js';
import { Arena, roundUp } from './wasm-arena.js';
import { PARAMS, Pool, builtin, chunkFn, threadsPossible, type Dot, type Gemm, type Pack } from './matmul-threads.js';

/**
 * Cache blocking for an ordinary x86-64 core (32 KiB L1d, 512 KiB-1 MiB L2, a large L3):
 * a kc x nr B panel (8 KiB at kc 256, nr 8) stays in L1 while the kernel walks the A block;
 * the mc x kc A block (128 KiB) stays in L2; the kc x nc B block lives in L3.
 */
const KC = 256;
const MC = 128;
const NC = 4096;

interface Engine {
  readonly tile: Tile;
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly gemm: Gemm;
  readonly packA: Pack;
  readonly packB: Pack;
  readonly epilogue: (c: number, ldc: number, rows: number, n: number, bias: number, relu: number) => void;
  readonly reluMask: (g: number, y: number, groups: number) => void;
  readonly columnSums: (src: number, rows: number, groups: number, ld: number, dst: number) => void;
  readonly closeRows: (c: number, rows: number, ldc: number, n: number) => void;
  readonly axpy: (y: number, x: number, groups: number, alpha: number) => void;
  readonly dot: Dot;
  heap: Float32Array;
  /** the resident blocks (parameters) at the memory's start; every call's scratch space begins at arena.end */
  readonly arena: Arena;
  /** worker threads over the same memory, started at the first product big enough to share */
  pool: Pool | null;
}

/**
 * The in-place kernel (`dot`) keeps a 2 x 4 tile's six operand rows in L1 across the whole
 * of k and streams A from L2 once a column group: past these, the packed path's cache blocks win.
 */
const DOT_MAX_K = 1024;
const DOT_MAX_A = 128 * 1024;

/** Products that took the in-place kernel (tests check that x W^T does). */
export const productStats = { inPlace: 0 };

/** Products of fewer multiply-adds than this stay on one thread: waking a worker costs more than it saves. */
const THREADED_FROM = 500_000;

/** A shared memory's maximum: all of wasm32's 4 GiB (it is reserved, not committed). */
const SHARED_MAX_PAGES = 65536;

/**
 * Floats that resident arrays may hold in all (64 MiB); past that, new parameters stay
 * ordinary arrays, staged at each call as before. A block is freed by a finalizer, which runs
 * only when the event loop turns: a synchronous loop that builds model after model holds its
 * dropped models' blocks until then, and this bounds what it can hold (a test checks).
 */
export const RESIDENT_MAX_FLOATS = 16 * 2 ** 20;

/** One engine per tile shape (only tests ask for others than the default); null: no SIMD here. */
const engines = new Map<string, Engine | null>();
let enabled = globalThis.process?.env?.KUSARI_NO_WASM !== '1';

/** Turn the WebAssembly matmul on or off (off: the plain JS kernel runs); KUSARI_NO_WASM=1 starts it off. */
export function setWasm(on: boolean): void {
  enabled = on;
}

/** Whether float32 matmuls take the WebAssembly path: switched on and SIMD available. */
export function wasmEnabled(): boolean {
  return enabled && getEngine() !== null;
}

/** Whether this engine validates `module` (an engine without the features it uses refuses it, or throws). */
function validates(module: Uint8Array<ArrayBuffer>): boolean {
  try {
    return WebAssembly.validate(module);
  } catch {
    return false;
  }
}

/** Whether this engine validates a module using SIMD and bulk memory (Node >= 16.4, every current browser). */
export function simdSupported(): boolean {
  if (typeof WebAssembly !== 'object') return false;
  // SIMD, and bulk memory's memory.fill, which the packers use
  return validates(encodeModule([func([], [], (c) => void c.i32Const(0).v128Load32Splat().v128Const([1, 1, 1, 1]).f32x4Mul().drop().i32Const(0).i32Const(0).i32Const(0).memoryFill())]));
}

/**
 * Whether this engine has relaxed SIMD's f32x4.relaxed_madd, which the micro-kernel uses as
 * one fused multiply-add (measured here: 20-30% more GFLOP/s than mul then add). Shipped in
 * Node 22 and current browsers; Node 20's V8 has it behind a flag, which is switched on here
 * first (it admits this opcode family to validation and changes nothing else).
 */
export function relaxedSimdSupported(): boolean {
  if (typeof WebAssembly !== 'object') return false;
  const probe = encodeModule([func([], [], (c) => void c.v128Const([1, 1, 1, 1]).v128Const([1, 1, 1, 1]).v128Const([1, 1, 1, 1]).f32x4RelaxedMadd().drop())]);
  if (validates(probe)) return true;
  try {
    builtin<{ setFlagsFromString(f: string): void }>('node:v8')?.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return validates(probe);
}

/** The tile products use unless a test asks for another: DEFAULT_TILE, with fused multiply-add where the engine has it. */
let bestTile: Tile | undefined;
const defaultTile = (): Tile => (bestTile ??= relaxedSimdSupported() && globalThis.process?.env?.KUSARI_NO_FMA !== '1' ? { ...DEFAULT_TILE, fma: true } : DEFAULT_TILE);

/** The default tile's engine, once made: every op's matmul asks for it, so it skips the keyed lookup. */
let defaultEngine: Engine | null | undefined;

function getEngine(tile?: Tile): Engine | null {
  if (tile === undefined && defaultEngine !== undefined) return defaultEngine;
  const chosen = tile ?? defaultTile();
  const key = JSON.stringify(chosen);
  let e = engines.get(key);
  if (e === undefined) {
    if (simdSupported()) {
      // shared where worker threads can use it (Node); a plain memory elsewhere
      const shared = threadsPossible();
      const memory = new WebAssembly.Memory(shared ? { initial: 16, maximum: SHARED_MAX_PAGES, shared: true } : { initial: 16 });
      // synchronous compile: the module is a few KiB, well under browsers' main-thread limit
      const module = new WebAssembly.Module(matmulModule(chosen, shared ? { minPages: 1, sharedMaxPages: SHARED_MAX_PAGES } : { minPages: 1 }));
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      const { gemm, packA, packB, epilogue, reluMask, columnSums, closeRows, axpy, dot } = instance.exports as unknown as Pick<Engine, 'gemm' | 'packA' | 'packB' | 'epilogue' | 'reluMask' | 'columnSums' | 'closeRows' | 'axpy' | 'dot'>;
      // only a shared memory keeps its views when it grows: a plain one detaches them, so holds no blocks
      const arena = new Arena(shared ? RESIDENT_MAX_FLOATS : 0);
      e = { tile: chosen, memory, module, gemm, packA, packB, epilogue, reluMask, columnSums, closeRows, axpy, dot, heap: new Float32Array(memory.buffer), arena, pool: null };
    } else {
      e = null;
    }
    engines.set(key, e);
  }
  if (tile === undefined) defaultEngine = e;
  return e;
}

/**
 * Grow the one memory to hold `floats` of scratch space from arena.end on (it never shrinks,
 * so steady-state calls allocate nothing); undefined when the engine refuses (past 4 GiB, or
 * out of memory).
 */
function reserve(e: Engine, floats: number): Float32Array | undefined {
  const need = (e.arena.end + floats) * 4 - e.memory.buffer.byteLength;
  if (need > 0) {
    try {
      e.memory.grow(Math.ceil(need / 65536));
    } catch {
      return undefined;
    }
    e.heap = new Float32Array(e.memory.buffer); // growing detaches the old view
  }
  return e.heap;
}

/**
 * Copy a rows x cols strided view densely into the heap at float offset `at`, by whole lines
 * along its unit stride (memcpy speed: a JS element loop costs a few ns an element here), and
 * return its strides there. Packing into panels then happens in wasm, from this copy.
 */
function stage(src: Float32Array, off: number, s0: number, s1: number, rows: number, cols: number, heap: Float32Array, at: number): [number, number] {
  const n = rows * cols;
  if (s1 === 1 || cols === 1) {
    if (s0 === cols || rows === 1) heap.set(src.subarray(off, off + n), at);
    else for (let i = 0; i < rows; i++) heap.set(src.subarray(off + i * s0, off + i * s0 + cols), at + i * cols);
    return [cols, 1];
  }
  if (s0 === 1 || rows === 1) {
    if (s1 === rows || cols === 1) heap.set(src.subarray(off, off + n), at);
    else for (let j = 0; j < cols; j++) heap.set(src.subarray(off + j * s1, off + j * s1 + rows), at + j * rows);
    return [1, rows];
  }
  // no unit stride (a broadcast or a stepped slice): gather element by element
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) heap[at + i * cols + j] = src[off + i * s0 + j * s1];
  return [cols, 1];
}

/** Node's Buffer, where there is one: its allocUnsafeSlow hands out memory without zeroing it first. */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(bytes: number): Uint8Array<ArrayBuffer> } }).Buffer;

/**
 * A fresh float32 array for a result about to be written over entirely (a product's copy-out):
 * in Node, memory the allocator does not zero first, a pass over a weight gradient's 313 KiB
 * saved (measured in the MLP step's bench rounds: 2% of the step); elsewhere, and for small
 * results where the Buffer costs more than the zeroing, a zeroed array.
 */
function resultArray(n: number): Float32Array {
  if (NodeBuffer === undefined || n < 1024) return new Float32Array(n);
  const b = NodeBuffer.allocUnsafeSlow(n * 4);
  return new Float32Array(b.buffer, b.byteOffset, n);
}

/** Resident arrays' storages (views into an engine's memory), with that engine and the float offset of their block. */
const homes = new WeakMap<Storage, { readonly e: Engine; readonly at: number }>();

/** Gives a block back once nothing holds its view any more (no NDArray, no Parameter). */
const reclaim = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry<{ e: Engine; at: number; floats: number }>(({ e, at, floats }) => e.arena.free(at, floats))
  : null;

/**
 * A copy of `x` (float32, on the CPU) that lives in the default engine's memory, for arrays
 * that live long and go through products and SGD's update at every step (parameters): those
 * then read and update it where it lies instead of copying it in, and out, at each call. Its
 * typed array is a view of the memory's SharedArrayBuffer, which structuredClone and
 * postMessage share rather than copy (take `.slice()` for a copy). `x` itself where there is
 * no such memory (no SIMD or no shared memory, or WebAssembly switched off) or no room left
 * under RESIDENT_MAX_FLOATS. The block is freed when the collector frees the view.
 */
export function residentCopy(x: NDArray): NDArray {
  if (x.device !== 'cpu' || x.dtype !== 'float32' || x.size === 0 || reclaim === null || !wasmEnabled()) return x;
  const e = getEngine()!;
  const at = e.arena.alloc(x.size);
  if (at === undefined) return x;
  if (reserve(e, 0) === undefined) {
    e.arena.free(at, x.size);
    return x;
  }
  const view = new Float32Array(e.memory.buffer, at * 4, x.size);
  view.set(x.isContiguous ? (x.buffer as Float32Array).subarray(x.offset, x.offset + x.size) : x.toFlat());
  homes.set(view, { e, at });
  reclaim.register(view, { e, at, floats: x.size });
  return new NDArray(view, x.shape.slice());
}

/** Where `storage`'s resident block begins in engine `e`'s memory, in floats; undefined when it has none there. */
function homeIn(e: Engine, storage: Storage): number | undefined {
  const h = homes.get(storage);
  return h?.e === e ? h.at : undefined;
}

/** Whether `x` is a view of a residentCopy (tests). */
export const isResident = (x: NDArray): boolean => homes.has(x.storage);

/** Floats the default engine's resident blocks hold (tests: blocks come back once their arrays are collected). */
export const residentFloats = (): number => getEngine()?.arena.used ?? 0;

/** Operands read in place from a resident array, not staged (tests check that parameters are). */
export const residentStats = { reads: 0 };

/**
 * A rows x cols strided view of `x` from float `off` as an operand of engine `e`: read where it
 * lies when it is resident there with a unit stride (the packers and `dot` take any strides),
 * else staged densely at `at`.
 */
function operand(e: Engine, x: NDArray, off: number, s0: number, s1: number, rows: number, cols: number, heap: Float32Array, at: number): Staged {
  const home = homeIn(e, x.storage);
  if (home !== undefined && (s0 === 1 || s1 === 1)) {
    residentStats.reads++;
    return { at: home + off, s0, s1 };
  }
  const [r, c] = stage(x.buffer as Float32Array, off, s0, s1, rows, cols, heap, at);
  return { at, s0: r, s1: c };
}

/** The worker pool of the default engine, started if it was not (tests wait on `ready`); null without SIMD or threads. */
export function matmulPool(): Pool | null {
  const e = getEngine();
  if (e === null || typeof SharedArrayBuffer !== 'function' || !(e.memory.buffer instanceof SharedArrayBuffer)) return null;
  e.pool ??= new Pool(e.module, e.memory);
  return e.pool;
}

/** A staged operand: where it lies in the heap and its two strides, in floats. */
interface Staged { readonly at: number; readonly s0: number; readonly s1: number }

/**
 * The heap a product of (m x k) by (k x n) needs beyond its staged operands, in floats from a
 * base: [packed A | packed B | bias | C]. k is split evenly into blocks of at most KC, each a
 * multiple of the unroll; every A block is packed up front (the threads share them), and every
 * k block of one column block of B (each chunk packs its own panels of it, matmul-threads.ts).
 */
function productLayout({ mr, nr, unroll }: Tile, m: number, k: number, n: number, base: number) {
  const kcMax = k === 0 ? 0 : roundUp(Math.ceil(k / Math.ceil(k / KC)), unroll);
  const nPc = k === 0 ? 0 : Math.ceil(k / kcMax), nIc = Math.ceil(m / MC);
  const ncMax = Math.min(NC, roundUp(n, nr));
  const ldc = roundUp(n, nr), mPad = roundUp(m, mr);
  const aBlock = roundUp(Math.min(MC, m), mr) * kcMax, bBlock = kcMax * ncMax;
  const aP = base, bP = aP + nPc * nIc * aBlock, biasAt = bP + nPc * bBlock, cOff = biasAt + ldc;
  return { kcMax, nIc, ldc, mPad, aBlock, bBlock, aP, bP, biasAt, cOff, end: cOff + mPad * ldc };
}

/**
 * C = A @ B for A (m x k) and B (k x n) already staged in the heap, packed and multiplied from
 * float offset `base` on (the heap must reach productLayout's end), then linear's epilogue when
 * `bias` (n,) is given, and C copied into `out` from `outAt`. Column chunks of C run on worker
 * threads too where there are any (matmul-threads.ts); each output tile is the same sequence
 * of float32 operations on any thread, so results do not depend on the thread count.
 */
function product(e: Engine, A: Staged, B: Staged, m: number, k: number, n: number, base: number, out: Float32Array, outAt: number, bias?: NDArray, relu = false): void {
  const { mr, nr, unroll } = e.tile;
  const { kcMax, nIc, ldc, mPad, aBlock, bBlock, aP, bP, biasAt, cOff } = productLayout(e.tile, m, k, n, base);
  const heap = e.heap;
  if (bias !== undefined) {
    // padded with zeros to whole tiles: the epilogue runs over C's padding columns too
    const bb = bias.buffer as Float32Array, s = bias.strides[0], o = bias.offset;
    if (s === 1) heap.set(bb.subarray(o, o + n), biasAt); // one copy, not a JS loop (which runs unoptimized in a program's first steps)
    else for (let j = 0; j < n; j++) heap[biasAt + j] = bb[o + j * s];
    heap.fill(0, biasAt + n, biasAt + ldc);
  }
  if (k === 0) heap.fill(0, cOff, cOff + mPad * ldc);
  else {
    const shared = m * n * k >= THREADED_FROM ? matmulPool() : null;
    const pool = shared?.sharing ? shared : null;
    // both operands along k in unit steps (x W^T): multiplied in place, see `dot` in compiler/wasm/matmul.ts
    const inPlace = A.s1 === 1 && B.s0 === 1 && mr % 2 === 0 && k <= DOT_MAX_K && m * k <= DOT_MAX_A;
    if (inPlace) productStats.inPlace++;
    if (!inPlace) {
      for (let pc = 0, pi = 0; pc < k; pc += kcMax, pi++) {
        const kc = Math.min(kcMax, k - pc), kcPad = roundUp(kc, unroll);
        for (let ic = 0, ii = 0; ic < m; ic += MC, ii++) {
          e.packA((A.at + ic * A.s0 + pc * A.s1) * 4, A.s0 * 4, A.s1 * 4, Math.min(MC, m - ic), kc, kcPad, (aP + (pi * nIc + ii) * aBlock) * 4);
        }
      }
    }
    for (let jc = 0; jc < n; jc += NC) {
      const nc = Math.min(NC, n - jc);
      const panels = Math.ceil(nc / nr);
      // about eight chunks a thread (one panel each for n = 100), so a late or slow thread costs little
      const per = pool === null ? panels : Math.max(1, Math.ceil(panels / (8 * (1 + pool.ready))));
      const p = pool?.ctrl ?? scratch;
      // B's panels run along its columns: for packB, its "rows" are B's columns (each chunk packs its own)
      p.set([inPlace ? A.at * 4 : aP * 4, bP * 4, (cOff + jc) * 4, m, k, kcMax, MC, mr, nr, unroll, ldc * 4, aBlock * 4, bBlock * 4, panels, per, (B.at + jc * B.s1) * 4, B.s1 * 4, B.s0 * 4, nc, inPlace ? A.s0 * 4 : 0], PARAMS);
      if (pool === null) chunkFn(e.gemm, e.packB, e.dot, p, 0);
      else pool.run(Math.ceil(panels / per), e);
    }
  }
  if (bias !== undefined) e.epilogue(cOff * 4, ldc * 4, m, ldc, biasAt * 4, relu ? 1 : 0);
  // copy out, dropping the padding columns (rows closed up in place first, in wasm: one copy out, not one a row)
  if (ldc !== n) e.closeRows(cOff * 4, m, ldc * 4, n * 4);
  out.set(heap.subarray(cOff, cOff + m * n), outAt);
}

/**
 * C = A @ B in float32 for a (..., m, k), b (..., k, n) strided views with equal batch dims,
 * into a fresh contiguous array; undefined when the operands do not fit in a WebAssembly
 * memory (the caller falls back to JS). With `bias` (n,), float32, C = A @ B + bias, then
 * relu(C) when `relu` (linear's epilogue, done in wasm before the copy out). Call only when
 * `wasmEnabled()`; `tile` is for tests.
 */
export function wasmMatmul(a: NDArray, b: NDArray, tile?: Tile, bias?: NDArray, relu = false): NDArray | undefined {
  const e = getEngine(tile);
  if (e === null) throw new Error('wasmMatmul: WebAssembly SIMD is not available here');
  const r = a.ndim;
  const m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1];
  const batch = a.shape.slice(0, r - 2);
  const outShape = [...batch, m, n];
  const out = resultArray(sizeOf(outShape));
  if (out.length === 0) return new NDArray(out, outShape);
  const as = a.buffer as Float32Array;
  // in floats from the scratch base: [A staged | B staged | productLayout's regions]
  const aS = e.arena.end, bS = aS + m * k, base = bS + k * n;
  // a B read in place: `dot` reads whole column panels, up to nr - 1 columns past B's last, which must lie in the memory
  const overread = homeIn(e, b.storage) !== undefined ? e.tile.nr * Math.max(1, ...b.strides) : 0;
  const heap = reserve(e, productLayout(e.tile, m, k, n, base).end - aS + overread);
  if (heap === undefined) return undefined;
  if (m * n * k >= THREADED_FROM) e.pool?.wake();
  const bStrides = contiguousStrides(batch);
  for (let t = 0; t < out.length / (m * n); t++) {
    let ao = a.offset, bo = b.offset;
    for (let d = 0; d < batch.length; d++) {
      const idx = Math.floor(t / bStrides[d]) % batch[d];
      ao += idx * a.strides[d];
      bo += idx * b.strides[d];
    }
    const [aRow, aK] = stage(as, ao, a.strides[r - 2], a.strides[r - 1], m, k, heap, aS);
    const B = operand(e, b, bo, b.strides[r - 2], b.strides[r - 1], k, n, heap, bS);
    product(e, { at: aS, s0: aRow, s1: aK }, B, m, k, n, base, out, t * m * n, bias, relu);
  }
  return new NDArray(out, outShape);
}

/** What linearBackward computes: each gradient only when asked. */
export interface LinearGrads { gx?: NDArray; gW?: NDArray; gb?: NDArray }

/**
 * linear's backward in float32 from the gradient gy (batch, out) of y = x W^T + b, with x
 * (batch, in) and W (out, in), all in one call, gy staged once for all of them: first
 * g = gy where y > 0 when `y` (the relu epilogue's output, row-major) is given, else gy; then
 * gb = the sum of g's rows (float64 sums, as the sum reduction), gW = g^T x and gx = g W,
 * each from the same packers and kernel as wasmMatmul, so bit for bit what the composed
 * matmuls give. undefined, having computed nothing, when gy's staged copy would not be
 * row-major (a transposed view), a dimension is 0, or the heap cannot grow (the caller then
 * composes the ops). Call only when `wasmEnabled()`.
 */
export function wasmLinearBackward(gy: NDArray, y: NDArray | undefined, x: NDArray, W: NDArray, want: { gx: boolean; gW: boolean; gb: boolean }): LinearGrads | undefined {
  const e = getEngine();
  if (e === null) throw new Error('wasmLinearBackward: WebAssembly SIMD is not available here');
  const [rows, out] = gy.shape, inF = W.shape[1];
  if (rows === 0 || out === 0 || inF === 0) return undefined;
  // gy row-major in the heap, as the mask (against y) and the column sums read it
  if (rows > 1 && out > 1 && gy.strides[1] !== 1 && gy.strides[0] === 1) return undefined;
  if (y !== undefined && (y.strides[0] !== out || y.strides[1] !== 1)) return undefined;
  // in floats from the scratch base: [g | y | x | W | gb | the products' regions]; g and y
  // padded so that the 4-lane mask and column sums may run past their ends
  const gLen = roundUp(rows * out, 4) + 4;
  const G = e.arena.end, Y = G + gLen, X = Y + (y === undefined ? 0 : gLen), Ws = X + (want.gW ? rows * inF : 0), B = Ws + (want.gx ? out * inF : 0);
  const base = roundUp(B + roundUp(out, 4), 4);
  const end = Math.max(base, want.gW ? productLayout(e.tile, out, rows, inF, base).end : 0, want.gx ? productLayout(e.tile, rows, out, inF, base).end : 0);
  const heap = reserve(e, end - G);
  if (heap === undefined) return undefined;
  if (rows * out * inF >= THREADED_FROM) e.pool?.wake();
  stage(gy.buffer as Float32Array, gy.offset, gy.strides[0], gy.strides[1], rows, out, heap, G);
  if (y !== undefined) {
    heap.set((y.buffer as Float32Array).subarray(y.offset, y.offset + rows * out), Y);
    e.reluMask(G * 4, Y * 4, roundUp(rows * out, 4) / 4);
  }
  const grads: LinearGrads = {};
  if (want.gb) {
    e.columnSums(G * 4, rows, Math.ceil(out / 4), out * 4, B * 4);
    grads.gb = new NDArray(heap.slice(B, B + out), [out]);
  }
  if (want.gW) {
    const xs = operand(e, x, x.offset, x.strides[0], x.strides[1], rows, inF, heap, X);
    const gW = resultArray(out * inF);
    // g^T: row i of A is column i of g
    product(e, { at: G, s0: 1, s1: out }, xs, out, rows, inF, base, gW, 0);
    grads.gW = new NDArray(gW, [out, inF]);
  }
  if (want.gx) {
    const Wo = operand(e, W, W.offset, W.strides[0], W.strides[1], out, inF, heap, Ws);
    const gx = resultArray(rows * inF);
    product(e, { at: G, s0: out, s1: 1 }, Wo, rows, out, inF, base, gx, 0);
    grads.gx = new NDArray(gx, [rows, inF]);
  }
  return grads;
}

/**
 * ys[i] += alpha xs[i] for every pair of contiguous float32 arrays of equal size, in ONE wasm
 * loop over all of them (SGD's update of a whole model: one call where a kernel per parameter
 * paid its staging and dispatch for a bias of 10 floats), written back into ys in place. A
 * resident y (a parameter living in the memory, residentCopy) is updated where it lies, by a
 * loop of its own, with nothing to copy in or out. Every x is staged before any y is written,
 * so an x may alias a y. false, having written nothing, when the heap cannot hold them. Call
 * only when `wasmEnabled()`.
 */
export function wasmAxpy(alpha: number, xs: readonly NDArray[], ys: readonly NDArray[]): boolean {
  const e = getEngine();
  if (e === null) throw new Error('wasmAxpy: WebAssembly SIMD is not available here');
  // a whole resident block (its padding to whole lines lets the 4-lane loop run past the end)
  const home = ys.map((y) => (y.offset === 0 && y.size === (y.storage as Float32Array).length && y.isContiguous ? homeIn(e, y.storage) ?? -1 : -1));
  // in floats from the scratch base: every staged y, then their xs, then the resident ys' xs,
  // each from a multiple of 4 so that the loops run in whole groups
  const at: number[] = [];
  let staged = 0;
  for (let i = 0; i < ys.length; i++) {
    if (home[i] >= 0) continue;
    at[i] = staged;
    staged += roundUp(ys[i].size, 4);
  }
  let total = 2 * staged;
  for (let i = 0; i < ys.length; i++) {
    if (home[i] < 0) continue;
    at[i] = total;
    total += roundUp(ys[i].size, 4);
  }
  if (total === 0) return true;
  const heap = reserve(e, total);
  if (heap === undefined) return false;
  const S = e.arena.end;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i], x = xs[i];
    const xAt = S + (home[i] >= 0 ? at[i] : staged + at[i]);
    if (home[i] < 0) heap.set((y.buffer as Float32Array).subarray(y.offset, y.offset + y.size), S + at[i]);
    heap.set((x.buffer as Float32Array).subarray(x.offset, x.offset + x.size), xAt);
  }
  if (staged > 0) e.axpy(S * 4, (S + staged) * 4, staged / 4, alpha);
  for (let i = 0; i < ys.length; i++) if (home[i] >= 0) e.axpy(home[i] * 4, (S + at[i]) * 4, Math.ceil(ys[i].size / 4), alpha);
  for (let i = 0; i < ys.length; i++) {
    if (home[i] < 0) (ys[i].buffer as Float32Array).set(heap.subarray(S + at[i], S + at[i] + ys[i].size), ys[i].offset);
  }
  return true;
}

/** The parameter words of a one-thread job. */
const scratch = new Int32Array(PARAMS + 24);
