// WebAssembly renderer for elementwise expressions: float32, f32x4 SIMD over the inner dim
// with a scalar tail, over four operand layouts (the host stages operands in memory, gathering
// strided views into them, and copies results out: runtime/array/cpu/wasm-elementwise.ts).

import { topoSort, type BinaryOp, type Expr, type Op, type UnaryOp } from '../expr.js';
import { hash64 } from '../wgsl.js';
import { encodeModule, func, type Code, type Local } from './encoder.js';
import { emitTranscendental, transcendentalConstants, type Consts } from './transcendental.js';

/**
 * How an operand is laid out in wasm memory over a (rows, cols) iteration space
 * (a rank-1 space is one row):
 * - `full`: rows * cols values, row-major (every output is full);
 * - `row`: one row of cols values read for every row (a bias over a batch);
 * - `col`: rows values, one per row, splat across the row;
 * - `scalar`: one value everywhere.
 */
export type OperandKind = 'full' | 'row' | 'col' | 'scalar';
export const OPERAND_KINDS: readonly OperandKind[] = ['full', 'row', 'col', 'scalar'];

/**
 * Primitives rendered in wasm. exp, log, tanh and sigmoid have no SIMD instruction: they are float32
 * polynomials (compiler/wasm/transcendental.ts, within 2 ulp of Math.* rounded to float32,
 * where the JS loop rounds once). pow has none: exp(b log a) in float32 would lose
 * |b log a| ulps, so expressions using it stay on the JS loop.
 */
const IN_WASM: { [O in Op]: boolean } = {
  input: true, scalar: true, const: true, select: true,
  neg: true, abs: true, sqrt: true, sign: true, exp: true, log: true, tanh: true, sigmoid: true,
  add: true, sub: true, mul: true, div: true, max: true, min: true, pow: false,
  lt: true, le: true, gt: true, ge: true, eq: true, ne: true,
};

/** Whether every node under `roots` has a wasm rendering. */
export function wasmRenders(roots: readonly Expr[]): boolean {
  return topoSort(roots).every((n) => IN_WASM[n.op]);
}

/** Exact text of the DAG (sharing kept, -0 and NaN spelled out): the module's content. */
export function exprKey(roots: readonly Expr[]): string {
  const order = topoSort(roots);
  const idx = new Map(order.map((n, i) => [n, i]));
  const lit = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
  const nodes = order.map((n) => (n.op === 'const' ? lit(n.value) : `${n.op}${n.op === 'input' || n.op === 'scalar' ? n.value : ''}(${n.args.map((a) => idx.get(a)).join(',')})`));
  return `${nodes.join(';')}|${roots.map((r) => idx.get(r)).join(',')}`;
}

export interface WasmElementwise {
  /** `fused_<ops>_<hash>`, the 64-bit hash over `key` (the cache itself keys on `key`, so no collision can reuse a module) */
  readonly name: string;
  /** expression + operand kinds + scalar count: equal keys, equal modules */
  readonly key: string;
  readonly bytes: Uint8Array<ArrayBuffer>;
}

/**
 * The module for `roots` over inputs laid out as `kinds` (outputs are `full`), importing
 * `env.memory` and exporting `main(rows, cols, inPtr..., outPtr..., scalar...)`: byte
 * pointers (i32), then the runtime scalars (f32). Every value is computed in float32.
 */
export function renderWasmElementwise(roots: readonly Expr[], kinds: readonly OperandKind[], nScalars: number): WasmElementwise {
  if (!wasmRenders(roots)) throw new Error(`renderWasmElementwise: no wasm rendering for ${roots.join(', ')}`);
  const nIn = kinds.length, nOut = roots.length;
  const key = `${exprKey(roots)}|${kinds.join(',')}|${nScalars}`;
  const ops = [...new Set(topoSort(roots).filter((n) => n.args.length > 0).map((n) => n.op))];
  const name = `fused_${ops.length > 0 ? ops.join('_') + '_' : ''}${hash64(key)}`;
  const params = ['i32', 'i32', ...Array(nIn + nOut).fill('i32'), ...Array(nScalars).fill('f32')] as const;
  const main = func(params, [], (c) => body(c, roots, kinds, nScalars), 'main');
  return { name, key, bytes: encodeModule([main]) };
}

/** Code for one node, on four f32x4 lanes (the main loop) or on one f32 (the tail). */
interface Lanes<T extends 'v128' | 'f32'> {
  readonly type: T;
  /** a leaf's value: loads from the current position or a local set up before the loop */
  leaf(n: Expr): void;
  unary(op: UnaryOp, a: Local<T>): void;
  binary(op: BinaryOp, a: Local<T>, b: Local<T>): void;
  select(c: Local<T>, a: Local<T>, b: Local<T>): void;
  store(out: number, v: Local<T>): void;
}

function body(c: Code, roots: readonly Expr[], kinds: readonly OperandKind[], nScalars: number): void {
  const nIn = kinds.length, nOut = roots.length;
  const rows = c.param(0, 'i32'), cols = c.param(1, 'i32');
  const ptr = (k: number) => c.param(2 + k, 'i32'); // operands: inputs, then outputs
  const scalarParam = (i: number) => c.param(2 + nIn + nOut + i, 'f32');
  const order = topoSort(roots);

  // loop-invariant values: splats of literals, runtime scalars, scalar-kind inputs
  const vConst = new Map<string, Local<'v128'>>();
  const splat = (v: number) => {
    const k = Object.is(v, -0) ? '-0' : String(v); // number keys would conflate -0 and 0
    let l = vConst.get(k);
    if (l === undefined) {
      l = c.local('v128');
      c.v128Const([v, v, v, v]).set(l);
      vConst.set(k, l);
    }
    return l;
  };
  const iConst = new Map<number, Local<'v128'>>();
  const splatI32 = (v: number) => {
    let l = iConst.get(v);
    if (l === undefined) {
      l = c.local('v128');
      c.v128ConstI32([v, v, v, v]).set(l);
      iConst.set(v, l);
    }
    return l;
  };
  const consts: Consts = { f: splat, i: splatI32 };
  const zero = splat(0), one = splat(1), minusOne = splat(-1);
  for (const n of order) if (n.op === 'const') splat(n.value);
  for (const op of new Set(order.map((n) => n.op))) {
    if (op !== 'exp' && op !== 'log' && op !== 'tanh' && op !== 'sigmoid') continue;
    const { f, i } = transcendentalConstants(op);
    f.forEach(splat);
    i.forEach(splatI32);
  }
  const sScalar = Array.from({ length: nScalars }, (_, i) => scalarParam(i));
  const vScalar = sScalar.map((p) => {
    const l = c.local('v128');
    c.get(p).f32x4Splat().set(l);
    return l;
  });
  // scalar- and col-kind inputs: one f32 and its splat; col ones are reloaded every row
  const sIn = kinds.map((k) => (k === 'scalar' || k === 'col' ? c.local('f32') : undefined));
  const vIn = kinds.map((k) => (k === 'scalar' || k === 'col' ? c.local('v128') : undefined));
  const loadInvariant = (k: number, at: Local<'i32'>) => c.get(at).f32Load().tee(sIn[k]!).f32x4Splat().set(vIn[k]!);
  kinds.forEach((kind, k) => kind === 'scalar' && loadInvariant(k, ptr(k)));

  // per-row pointers: full operands and outputs advance a row, col inputs one float
  const rowPtr = [...kinds, ...roots.map((): OperandKind => 'full')].map((kind, k) => {
    if (kind !== 'full' && kind !== 'col') return undefined;
    const l = c.local('i32');
    c.get(ptr(k)).set(l);
    return l;
  });
  const at = (k: number) => rowPtr[k] ?? ptr(k);
  const i = c.local('i32'), row = c.local('i32'), rowBytes = c.local('i32'), vecEnd = c.local('i32');
  c.get(cols).i32Const(4).i32Mul().tee(rowBytes).i32Const(-16).i32And().set(vecEnd);

  const vec: Lanes<'v128'> = {
    type: 'v128',
    leaf: (n) => {
      if (n.op === 'const') c.get(splat(n.value));
      else if (n.op === 'scalar') c.get(vScalar[n.value]);
      else if (vIn[n.value] !== undefined) c.get(vIn[n.value]!);
      else c.get(at(n.value)).get(i).i32Add().v128Load(0, 2);
    },
    unary: (op, a) => {
      switch (op) {
        case 'neg': c.get(a).f32x4Neg(); return;
        case 'abs': c.get(a).f32x4Abs(); return;
        case 'sqrt': c.get(a).f32x4Sqrt(); return;
        case 'sign':
          // +-1 where a > 0 or a < 0; elsewhere (+-0, NaN) a itself, as Math.sign
          c.get(a).get(zero).f32x4Gt().get(one).v128And();
          c.get(a).get(zero).f32x4Lt().get(minusOne).v128And().v128Or();
          c.get(a);
          c.get(a).get(zero).f32x4Gt().get(a).get(zero).f32x4Lt().v128Or();
          c.v128Bitselect();
          return;
        case 'exp': case 'log': case 'tanh': case 'sigmoid': emitTranscendental(c, consts, op, a); return;
        default: op satisfies never;
      }
    },
    binary: (op, a, b) => {
      c.get(a).get(b);
      switch (op) {
        case 'add': c.f32x4Add(); return;
        case 'sub': c.f32x4Sub(); return;
        case 'mul': c.f32x4Mul(); return;
        case 'div': c.f32x4Div(); return;
        case 'max': c.f32x4Max(); return;
        case 'min': c.f32x4Min(); return;
        // masks to 1.0 / 0.0
        case 'lt': c.f32x4Lt(); break;
        case 'le': c.f32x4Le(); break;
        case 'gt': c.f32x4Gt(); break;
        case 'ge': c.f32x4Ge(); break;
        case 'eq': c.f32x4Eq(); break;
        case 'ne': c.f32x4Ne(); break;
        case 'pow': throw new Error('no wasm pow');
        default: op satisfies never;
      }
      c.get(one).v128And();
    },
    // a NaN condition is "true", as `c !== 0` is in JS: ne(NaN, 0) is all ones
    select: (cond, a, b) => void c.get(a).get(b).get(cond).get(zero).f32x4Ne().v128Bitselect(),
    store: (out, v) => void c.get(at(nIn + out)).get(i).i32Add().get(v).v128Store(0, 2),
  };

  const tail = c.local('v128');
  const scalar: Lanes<'f32'> = {
    type: 'f32',
    leaf: (n) => {
      if (n.op === 'const') c.f32Const(n.value);
      else if (n.op === 'scalar') c.get(sScalar[n.value]);
      else if (sIn[n.value] !== undefined) c.get(sIn[n.value]!);
      else c.get(at(n.value)).get(i).i32Add().f32Load();
    },
    unary: (op, a) => {
      switch (op) {
        case 'neg': c.get(a).f32Neg(); return;
        case 'abs': c.get(a).f32Abs(); return;
        case 'sqrt': c.get(a).f32Sqrt(); return;
        case 'sign':
          // a > 0 ? 1 : (a < 0 ? -1 : a)
          c.f32Const(1);
          c.f32Const(-1).get(a).get(a).f32Const(0).f32Lt().select();
          c.get(a).f32Const(0).f32Gt().select();
          return;
        case 'exp': case 'log': case 'tanh': case 'sigmoid':
          // the vector code on a splat, so the tail rounds exactly as the main loop does
          c.get(a).f32x4Splat().set(tail);
          emitTranscendental(c, consts, op, tail);
          c.f32x4ExtractLane(0);
          return;
        default: op satisfies never;
      }
    },
    binary: (op, a, b) => {
      c.get(a).get(b);
      switch (op) {
        case 'add': c.f32Add(); return;
        case 'sub': c.f32Sub(); return;
        case 'mul': c.f32Mul(); return;
        case 'div': c.f32Div(); return;
        case 'max': c.f32Max(); return;
        case 'min': c.f32Min(); return;
        case 'lt': c.f32Lt(); break;
        case 'le': c.f32Le(); break;
        case 'gt': c.f32Gt(); break;
        case 'ge': c.f32Ge(); break;
        case 'eq': c.f32Eq(); break;
        case 'ne': c.f32Ne(); break;
        case 'pow': throw new Error('no wasm pow');
        default: op satisfies never;
      }
      c.f32ConvertI32U();
    },
    select: (cond, a, b) => void c.get(a).get(b).get(cond).f32Const(0).f32Ne().select(),
    store: (out, v) => void c.get(at(nIn + out)).get(i).i32Add().get(v).f32Store(),
  };

  // straight-line code for one position (4 lanes or 1): a local per node, roots stored last
  const emit = <T extends 'v128' | 'f32'>(L: Lanes<T>) => {
    const vals = new Map<Expr, Local<T>>();
    for (const n of order) {
      const v = c.local(L.type);
      if (n.args.length === 0) L.leaf(n);
      else if (n.op === 'select') L.select(vals.get(n.args[0])!, vals.get(n.args[1])!, vals.get(n.args[2])!);
      else if (n.args.length === 1) L.unary(n.op as UnaryOp, vals.get(n.args[0])!);
      else L.binary(n.op as BinaryOp, vals.get(n.args[0])!, vals.get(n.args[1])!);
      c.set(v);
      vals.set(n, v);
    }
    roots.forEach((r, j) => L.store(j, vals.get(r)!));
  };

  // nothing to do for an empty space (the loops below run at least once)
  c.get(rows).i32Eqz().get(cols).i32Eqz().i32Or().i32Eqz().if(() => {
    c.i32Const(0).set(row);
    c.loop((nextRow) => {
      kinds.forEach((kind, k) => kind === 'col' && loadInvariant(k, rowPtr[k]!));
      c.i32Const(0).set(i);
      c.block((vecDone) => c.loop((nextVec) => {
        c.get(i).get(vecEnd).i32LtU().i32Eqz().brIf(vecDone);
        emit(vec);
        c.get(i).i32Const(16).i32Add().set(i).br(nextVec);
      }));
      // the cols % 4 tail, one float at a time
      c.block((tailDone) => c.loop((nextTail) => {
        c.get(i).get(rowBytes).i32LtU().i32Eqz().brIf(tailDone);
        emit(scalar);
        c.get(i).i32Const(4).i32Add().set(i).br(nextTail);
      }));
      rowPtr.forEach((p, k) => {
        if (p === undefined) return;
        c.get(p);
        if (k < nIn && kinds[k] === 'col') c.i32Const(4);
        else c.get(rowBytes);
        c.i32Add().set(p);
      });
      c.get(row).i32Const(1).i32Add().tee(row).get(rows).i32LtU().brIf(nextRow);
    });
  });
}
