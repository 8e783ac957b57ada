// JS renderer: expressions plus a strided layout become one generated loop over typed arrays.

import { Expr, countScalars, sigmoid, type BinaryOp, type UnaryOp } from './expr.js';
import { renderBody, type Dialect } from './render.js';

/** How each primitive reads in JavaScript (comparisons yield 1 or 0, like WGSL's select). */
const JS_UNARY: { [O in UnaryOp]: (x: string) => string } = {
  neg: (x) => `(-${x})`,
  exp: (x) => `Math.exp(${x})`,
  log: (x) => `Math.log(${x})`,
  sqrt: (x) => `Math.sqrt(${x})`,
  abs: (x) => `Math.abs(${x})`,
  sign: (x) => `Math.sign(${x})`,
  tanh: (x) => `Math.tanh(${x})`,
  // expr.ts's sigmoid() itself, which compileLoop hands every loop (one exp; V8 inlines it)
  sigmoid: (x) => `sigmoid(${x})`,
};
const JS_BINARY: { [O in BinaryOp]: (a: string, b: string) => string } = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  pow: (a, b) => `Math.pow(${a}, ${b})`,
  // NaN-propagating, unlike a bare comparison (numpy's maximum/minimum semantics)
  max: (a, b) => `Math.max(${a}, ${b})`,
  min: (a, b) => `Math.min(${a}, ${b})`,
  lt: (a, b) => `(${a} < ${b} ? 1 : 0)`,
  le: (a, b) => `(${a} <= ${b} ? 1 : 0)`,
  gt: (a, b) => `(${a} > ${b} ? 1 : 0)`,
  ge: (a, b) => `(${a} >= ${b} ? 1 : 0)`,
  eq: (a, b) => `(${a} === ${b} ? 1 : 0)`,
  ne: (a, b) => `(${a} !== ${b} ? 1 : 0)`,
};

function literal(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '(-Infinity)';
  return Object.is(v, -0) ? '(-0)' : v < 0 ? `(${v})` : String(v);
}

/**
 * Integer arithmetic on int32 operands: results wrap to 32 bits as NumPy's int32 (and WGSL's
 * i32) do; Math.imul, not `*`, since a product of two int32 can exceed 2^53.
 */
const JS_INT_BINARY: { [O in BinaryOp]: (a: string, b: string) => string } = {
  ...JS_BINARY,
  add: (a, b) => `((${a} + ${b}) | 0)`,
  sub: (a, b) => `((${a} - ${b}) | 0)`,
  mul: (a, b) => `Math.imul(${a}, ${b})`,
};
const JS_INT_UNARY: { [O in UnaryOp]: (x: string) => string } = {
  ...JS_UNARY,
  neg: (x) => `((-${x}) | 0)`,
  abs: (x) => `(Math.abs(${x}) | 0)`,
};

/** JavaScript's spelling of the primitives. */
export const JS: Dialect = {
  decl: 'const',
  literal,
  unary: JS_UNARY,
  binary: JS_BINARY,
  select: (c, a, b) => `(${c} !== 0 ? ${a} : ${b})`,
};

/** The iteration space shared by every operand: sizes, and each operand's strides/offset. */
export interface Layout {
  shape: number[];
  /** strides[k][d]: operand k's step along dim d (0 where it is broadcast or reduced) */
  strides: number[][];
  offsets: number[];
}

/**
 * Drop size-1 dims and merge neighbours that every operand walks as one run, so a
 * contiguous or simply broadcast case becomes a rank-1 or rank-2 loop.
 */
export function collapse(layout: Layout): Layout {
  const dims: number[] = [];
  for (let d = 0; d < layout.shape.length; d++) if (layout.shape[d] !== 1) dims.push(d);
  const shape: number[] = [];
  const strides: number[][] = layout.strides.map(() => []);
  for (const d of dims) {
    const n = layout.shape[d];
    const last = shape.length - 1;
    if (last >= 0 && layout.strides.every((s, k) => strides[k][last] === s[d] * n)) {
      shape[last] *= n;
      strides.forEach((s, k) => (s[last] = layout.strides[k][d]));
    } else {
      shape.push(n);
      strides.forEach((s, k) => s.push(layout.strides[k][d]));
    }
  }
  if (shape.length === 0) {
    shape.push(1);
    strides.forEach((s) => s.push(0));
  }
  return { shape, strides, offsets: layout.offsets.slice() };
}

export type ReduceOp = 'sum' | 'max' | 'min';
const COMBINE: { [O in ReduceOp]: (acc: string, v: string) => string } = {
  sum: (acc, v) => `${acc} + ${v}`,
  // `v !== v` keeps a NaN once seen, as numpy's max does
  max: (acc, v) => `(${v} > ${acc} || ${v} !== ${v} ? ${v} : ${acc})`,
  min: (acc, v) => `(${v} < ${acc} || ${v} !== ${v} ? ${v} : ${acc})`,
};

/**
 * What the loop does with each root's value: `store` writes output k at its own strided
 * position; `reduce` combines it into an accumulator whose strides are 0 on reduced dims.
 */
export type Sink =
  | {
    kind: 'store';
    /** outputs that are int32: their stores saturate, NaN giving 0 */
    ints?: readonly boolean[];
    /** every operand is int32 and isIntegerExpr(roots): compute in wrapping int32 arithmetic */
    intMath?: boolean;
  }
  | { kind: 'reduce'; op: ReduceOp; /** the accumulator's innermost stride is 0 */ innerStays: boolean };

/**
 * The kernel's source. Operands are numbered inputs first, then outputs; the generated
 * function is `(arrays, scalars, shape, strides, offsets) => void`.
 */
export function renderLoop(roots: readonly Expr[], nInputs: number, rank: number, sink: Sink): string {
  const nOps = nInputs + roots.length;
  const L: string[] = [];
  L.push(`const ${range(nOps).map((k) => `A${k} = arrays[${k}]`).join(', ')};`);
  for (let d = 0; d < rank; d++) {
    L.push(`const n${d} = shape[${d}], ${range(nOps).map((k) => `s${k}_${d} = strides[${k}][${d}]`).join(', ')};`);
  }
  const intMath = sink.kind === 'store' && sink.intMath === true;
  const dialect: Dialect = intMath ? { ...JS, unary: JS_INT_UNARY, binary: JS_INT_BINARY } : JS;
  const body = renderBody(roots, (leaf) => (leaf.op === 'input' ? `x${leaf.value}` : `c${leaf.value}`), dialect);
  const nScalars = countScalars(roots);
  if (nScalars > 0) L.push(`const ${range(nScalars).map((i) => `c${i} = scalars[${i}]`).join(', ')};`);

  // A reduction whose accumulator stays put along the innermost dim sums in a register.
  const inner = rank - 1;
  const registerAcc = sink.kind === 'reduce' && sink.innerStays;
  const ptr = (k: number, d: number) => `p${k}_${d}`;
  let indent = '';
  for (let d = 0; d < rank; d++) {
    const base = (k: number) => (d === 0 ? `offsets[${k}]` : ptr(k, d - 1));
    if (d === inner && registerAcc) {
      // pointers for the accumulator at the start of the innermost run
      L.push(`${indent}const pa = ${base(nInputs)};`);
      L.push(`${indent}let acc = A${nInputs}[pa];`);
    }
    L.push(`${indent}for (let i${d} = 0; i${d} < n${d}; i${d}++) {`);
    indent += '  ';
    const ks = range(nOps).filter((k) => !(registerAcc && d === inner && k >= nInputs));
    L.push(`${indent}const ${ks.map((k) => `${ptr(k, d)} = ${base(k)} + i${d} * s${k}_${d}`).join(', ')};`);
  }
  for (let k = 0; k < nInputs; k++) L.push(`${indent}const x${k} = A${k}[${ptr(k, inner)}];`);
  for (const line of body.lines) L.push(indent + line);
  if (sink.kind === 'store') {
    body.results.forEach((r, j) => L.push(`${indent}A${nInputs + j}[${ptr(nInputs + j, inner)}] = ${sink.ints?.[j] && !intMath ? saturate(r) : r};`));
  } else if (registerAcc) {
    L.push(`${indent}acc = ${COMBINE[sink.op]('acc', body.results[0])};`);
  } else {
    const a = `A${nInputs}[${ptr(nInputs, inner)}]`;
    L.push(`${indent}${a} = ${COMBINE[sink.op](a, body.results[0])};`);
  }
  for (let d = rank - 1; d >= 0; d--) {
    indent = indent.slice(2);
    L.push(`${indent}}`);
    if (d === inner && registerAcc) L.push(`${indent}A${nInputs}[pa] = acc;`);
  }
  return L.join('\n');
}

/**
 * A float stored into an Int32Array wraps modulo 2^32 (and Infinity becomes 0); WGSL's
 * conversion saturates instead, and NaN gives 0 on both: so the CPU saturates too.
 */
const saturate = (v: string) => `(${v} !== ${v} ? 0 : ${v} >= 2147483647 ? 2147483647 : ${v} <= -2147483648 ? -2147483648 : ${v})`;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export type NumArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export type LoopFn = (
  arrays: readonly NumArray[],
  scalars: readonly number[],
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  offsets: readonly number[],
) => void;

const compiled = new Map<string, LoopFn>();

/** Compile once per distinct source: the source text is the cache key. */
export function compileLoop(source: string): LoopFn {
  let fn = compiled.get(source);
  if (fn === undefined) {
    // the loop sees the scalar helpers its primitives call by name (JS_UNARY's sigmoid)
    fn = new Function('sigmoid', `"use strict";\nreturn function loop(arrays, scalars, shape, strides, offsets) {\n${source}\n};`)(sigmoid) as LoopFn;
    compiled.set(source, fn);
  }
  return fn;
}

/** How many distinct loops have been compiled (tests count kernels with it). */
export const compiledLoopCount = (): number => compiled.size;
