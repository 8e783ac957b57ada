// WGSL renderer: the same expressions and strided layouts as js.ts, as one compute shader each.

import { Expr, countScalars, topoSort, type BinaryOp, type UnaryOp } from './expr.js';
import { renderBody, type Dialect } from './render.js';
import { collapse, type Layout, type ReduceOp } from './js.js';

// Everything is f32: WebGPU has no f64, so a float64 array is not a WGSL operand.

/** How each primitive reads in WGSL; comparisons are bool there, so they select 1.0 or 0.0. */
const WGSL_UNARY: { [O in UnaryOp]: (x: string) => string } = {
  neg: (x) => `-${x}`,
  exp: (x) => `exp(${x})`,
  log: (x) => `log(${x})`,
  sqrt: (x) => `sqrt(${x})`,
  abs: (x) => `abs(${x})`,
  sign: (x) => `sign(${x})`,
  // not WGSL's tanh: lavapipe builds it from two exps and a division (and NaN once e^2x
  // overflows, unless clamped), off by a factor of 3e4 at x = 1e-12; tanh_f below is a rational
  tanh: (x) => `tanh_f(${x})`,
  // expr.ts's sigmoid(): e = exp(-|x|) <= 1 never overflows, and the negative tail is e / (1 + e);
  // NaN and +-Infinity need no guard (exp(NaN) is NaN, exp(-Infinity) is 0)
  sigmoid: (x) => `sigmoid_f(${x})`,
};
const cmp = (op: string) => (a: string, b: string) => `select(0.0, 1.0, ${a} ${op} ${b})`;
const WGSL_BINARY: { [O in BinaryOp]: (a: string, b: string) => string } = {
  add: (a, b) => `${a} + ${b}`,
  sub: (a, b) => `${a} - ${b}`,
  mul: (a, b) => `${a} * ${b}`,
  // WGSL leaves x / 0 indeterminate (lavapipe gave 1 one run, 0 the next): div_real is IEEE's
  div: (a, b) => `div_real(${a}, ${b})`,
  // WGSL's pow is undefined for a base <= 0; pow_real (below) gives Math.pow's answers.
  pow: (a, b) => `pow_real(${a}, ${b})`,
  // What max/min return for a NaN operand is up to the implementation: these return the
  // NaN, as Math.max and numpy's maximum do
  max: (a, b) => `max_nan(${a}, ${b})`,
  min: (a, b) => `min_nan(${a}, ${b})`,
  lt: cmp('<'), le: cmp('<='), gt: cmp('>'), ge: cmp('>='), eq: cmp('=='), ne: cmp('!='),
};

// WGSL has no NaN or Inf literal, and a constant expression that evaluates to one is a
// shader-creation error: the bits are read from private variables, which are not constant.
const SPECIAL = {
  nan: { decl: 'var<private> NAN_BITS: u32 = 0x7fc00000u;', use: 'bitcast<f32>(NAN_BITS)' },
  inf: { decl: 'var<private> INF_BITS: u32 = 0x7f800000u;', use: 'bitcast<f32>(INF_BITS)' },
};

const POW_REAL = `// Math.pow on f32: WGSL's pow is exp2(b * log2(a)), undefined for a <= 0.
fn pow_real(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (is_nan(b)) { return ${SPECIAL.nan.use}; }
  if (a == 0.0) { return select(0.0, ${SPECIAL.inf.use}, b < 0.0); }
  let m = exp2(b * log2(abs(a)));
  if (a > 0.0) { return m; }
  if (b != floor(b)) { return ${SPECIAL.nan.use}; }
  return select(m, -m, fract(b * 0.5) != 0.0);
}`;

// NaN tests on the bits: a compiler that assumes no NaNs may fold v != v to false
const IS_NAN = `fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }`;

const SIGMOID = `// 1 / (1 + e^-x) without overflow: e = exp(-|x|) <= 1 (compiler/expr.ts's sigmoid)
fn sigmoid_f(x: f32) -> f32 { let e = exp(-abs(x)); return select(e, 1.0, x >= 0.0) / (1.0 + e); }`;
// tanh on a = min(|x|, 9) as a P(a^2) / Q(a^2), capped at 1, x's sign copied on (tanh(-0) = -0)
// and a NaN passed through (min may drop it). The coefficients come from scripts/fit-tanh.py: a
// least-squares fit of tanh(a)/a on [0, 9] by relative error, degree 4 over 4 in a^2, then nudged
// in float32 to the smallest maximum error: 3.0e-7 relative on lavapipe over 2^-40..10 (its test
// allows 4e-7). Beyond 9, tanh is 1 in float32. No exp: the exp form (1 - 2 / (e^2a + 1), the WebAssembly renderer's,
// with a polynomial below 0.625 beside it) was within 1.1e-7 but took half again the time, and
// B3's fused kernel spent a sixth of its time there. One text for f32 and vec4<f32>: `F` the
// float type, `U` the unsigned one of the same shape; a constant is splat to vec4 by naming its type.
const TANH_NUM = [1, 0.13380999863147736, 0.0034955525770783424, 2.0608313207048923e-5, 1.33532402912806e-8];
const TANH_DEN = [1, 0.46714314818382263, 0.025876859202980995, 0.00032855686731636524, 7.776052370900288e-7];
const tanhHelper = (name: string, F: string, U: string) => {
  const f = (c: string) => (F === 'f32' ? c : `${F}(${c})`), u = (c: string) => (U === 'u32' ? c : `${U}(${c})`);
  // the coefficients are finite: literal() needs no helper for them
  const lit = (c: number) => f(literal(c, { nan: false, inf: false, pow: false }));
  const poly = (c: readonly number[]) => c.slice(0, -1).reduceRight((acc, k) => `(${acc} * z + ${lit(k)})`, lit(c[c.length - 1]));
  return `fn ${name}(x: ${F}) -> ${F} {
  let a = min(abs(x), ${f('9.0')});
  let z = a * a;
  let t = min(a * ${poly(TANH_NUM)} / ${poly(TANH_DEN)}, ${f('1.0')});
  let bits = bitcast<${U}>(x);
  return select(bitcast<${F}>(bitcast<${U}>(t) | (bits & ${u('0x80000000u')})), x, (bits & ${u('0x7fffffffu')}) > ${u('0x7f800000u')});
}`;
};
const TANH = tanhHelper('tanh_f', 'f32', 'u32');
const TANH4 = tanhHelper('tanh_f4', 'vec4<f32>', 'vec4<u32>');
const SIGMOID4 = `fn sigmoid_f4(x: vec4<f32>) -> vec4<f32> { let e = exp(-abs(x)); return select(e, vec4<f32>(1.0), x >= vec4<f32>(0.0)) / (vec4<f32>(1.0) + e); }`;

const MAX_NAN = `// numpy's maximum/minimum: a NaN operand wins (WGSL's max/min may return either)
fn max_nan(a: f32, b: f32) -> f32 { return select(select(max(a, b), b, is_nan(b)), a, is_nan(a)); }
fn min_nan(a: f32, b: f32) -> f32 { return select(select(min(a, b), b, is_nan(b)), a, is_nan(a)); }`;

const DIV_REAL = `// IEEE division: x / +-0 is +-Inf, 0 / 0 and NaN / 0 are NaN (WGSL leaves it indeterminate)
fn div_real(a: f32, b: f32) -> f32 {
  if ((bitcast<u32>(b) & 0x7fffffffu) != 0u) { return a / b; }
  let ua = bitcast<u32>(a);
  if ((ua & 0x7fffffffu) == 0u || is_nan(a)) { return ${SPECIAL.nan.use}; }
  return bitcast<f32>(((ua ^ bitcast<u32>(b)) & 0x80000000u) | 0x7f800000u);
}`;

const TO_I32 = `// float to int32 as the CPU stores it: toward zero, saturating, NaN to 0
fn to_i32(v: f32) -> i32 {
  if (is_nan(v)) { return 0; }
  if (v >= 2147483648.0) { return 2147483647; }
  return i32(max(v, -2147483648.0));
}`;

/** What a module needs besides its entry point: special values and helper functions. */
interface Needs { nan: boolean; inf: boolean; pow: boolean; isNan?: boolean; maxNan?: boolean; div?: boolean; toI32?: boolean; vec4?: boolean; sigmoid?: boolean; tanh?: boolean }

function literal(v: number, needs: Needs): string {
  if (Number.isNaN(v)) { needs.nan = true; return SPECIAL.nan.use; }
  // a finite double beyond f32's range is a creation error too: it is Inf in f32 anyway
  if (!Number.isFinite(Math.fround(v))) { needs.inf = true; return v > 0 ? SPECIAL.inf.use : `(-${SPECIAL.inf.use})`; }
  const s = String(Math.abs(v));
  const text = /[.e]/.test(s) ? s : `${s}.0`; // `2` would be an integer literal
  return v < 0 || Object.is(v, -0) ? `(-${text})` : text;
}

/** WGSL's spelling; it records in `needs` which helpers the rendered code calls. */
function wgsl(needs: Needs): Dialect {
  return {
    decl: 'let',
    literal: (v) => literal(v, needs),
    unary: {
      ...WGSL_UNARY,
      tanh: (x) => { needs.tanh = true; return WGSL_UNARY.tanh(x); },
      sigmoid: (x) => { needs.sigmoid = true; return WGSL_UNARY.sigmoid(x); },
    },
    binary: {
      ...WGSL_BINARY,
      pow: (a, b) => {
        needs.pow = needs.nan = needs.inf = needs.isNan = true;
        return WGSL_BINARY.pow(a, b);
      },
      max: (a, b) => { needs.maxNan = needs.isNan = true; return WGSL_BINARY.max(a, b); },
      min: (a, b) => { needs.maxNan = needs.isNan = true; return WGSL_BINARY.min(a, b); },
      div: (a, b) => { needs.div = needs.isNan = needs.nan = true; return WGSL_BINARY.div(a, b); },
    },
    select: (c, a, b) => `select(${b}, ${a}, ${c} != 0.0)`, // WGSL: select(false_value, true_value, cond)
  };
}

/** The same primitives on vec4<f32>, lane by lane; helpers get a `4` suffix (WGSL has no overloads). */
function wgsl4(needs: Needs): Dialect {
  const v = (x: string) => `vec4<f32>(${x})`;
  const cmp4 = (op: string) => (a: string, b: string) => `select(vec4<f32>(0.0), vec4<f32>(1.0), ${a} ${op} ${b})`;
  return {
    decl: 'let',
    literal: (x) => v(literal(x, needs)),
    unary: {
      ...WGSL_UNARY,
      tanh: (x) => { needs.tanh = needs.vec4 = true; return `tanh_f4(${x})`; },
      sigmoid: (x) => { needs.sigmoid = needs.vec4 = true; return `sigmoid_f4(${x})`; },
    },
    binary: {
      ...WGSL_BINARY,
      pow: (a, b) => { needs.pow = needs.nan = needs.inf = needs.isNan = needs.vec4 = true; return `pow_real4(${a}, ${b})`; },
      max: (a, b) => { needs.maxNan = needs.isNan = needs.vec4 = true; return `max_nan4(${a}, ${b})`; },
      min: (a, b) => { needs.maxNan = needs.isNan = needs.vec4 = true; return `min_nan4(${a}, ${b})`; },
      div: (a, b) => { needs.div = needs.isNan = needs.nan = needs.vec4 = true; return `div_real4(${a}, ${b})`; },
      lt: cmp4('<'), le: cmp4('<='), gt: cmp4('>'), ge: cmp4('>='), eq: cmp4('=='), ne: cmp4('!='),
    },
    select: (c, a, b) => `select(${b}, ${a}, ${c} != vec4<f32>(0.0))`,
  };
}

/** vec4 forms of the helpers the rendered code used (each needs its scalar form too). */
function helpers4(needs: Needs): string[] {
  const S: string[] = [];
  if (needs.isNan) S.push('fn is_nan4(v: vec4<f32>) -> vec4<bool> { return (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u); }', '');
  if (needs.maxNan) {
    S.push('fn max_nan4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> { return select(select(max(a, b), b, is_nan4(b)), a, is_nan4(a)); }');
    S.push('fn min_nan4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> { return select(select(min(a, b), b, is_nan4(b)), a, is_nan4(a)); }', '');
  }
  if (needs.div) {
    S.push(`// div_real lane by lane, without branches: the quotient unless the divisor is +-0
fn div_real4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let ua = bitcast<vec4<u32>>(a);
  let ub = bitcast<vec4<u32>>(b);
  let inf = bitcast<vec4<f32>>(((ua ^ ub) & vec4<u32>(0x80000000u)) | vec4<u32>(0x7f800000u));
  let zero = select(inf, vec4<f32>(${SPECIAL.nan.use}), ((ua & vec4<u32>(0x7fffffffu)) == vec4<u32>(0u)) | is_nan4(a));
  return select(zero, a / b, (ub & vec4<u32>(0x7fffffffu)) != vec4<u32>(0u));
}`, '');
  }
  if (needs.sigmoid) S.push(SIGMOID4, '');
  if (needs.tanh) S.push(TANH4, '');
  if (needs.pow) S.push('fn pow_real4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> { return vec4<f32>(pow_real(a.x, b.x), pow_real(a.y, b.y), pow_real(a.z, b.z), pow_real(a.w, b.w)); }', '');
  return S;
}

/** One resource of the shader, all in bind group 0. */
export interface WgslBinding {
  binding: number;
  /** the variable's name in the source: A<k> for operand k, `p` for the parameters */
  name: string;
  role: 'input' | 'output' | 'params';
  /** 'read' and 'read_write' are storage buffers of f32; 'uniform' is the Params struct */
  access: 'read' | 'read_write' | 'uniform';
}

/** A rendered compute shader and what a backend needs to bind and launch it. */
export interface WgslKernel {
  /** `fused_<ops>_<hash>`, the hash being hash64 (8 bytes, 16 hex digits) of `source` below its first line */
  name: string;
  source: string;
  entryPoint: 'main';
  workgroupSize: number;
  bindings: WgslBinding[];
  /** The Params struct's fields in order, 4 bytes each: fill it with packParams. */
  params: { name: string; type: 'u32' | 'f32' | 'i32' }[];
}

export interface WgslOptions {
  /** invocations per workgroup (default 64) */
  workgroupSize?: number;
  /** op names for the kernel's name (default: the distinct primitives, in order) */
  ops?: readonly string[];
  /** the device's maxStorageBuffersPerShaderStage (default 8, WebGPU's guaranteed minimum) */
  maxStorageBuffers?: number;
  /** element type of each operand, inputs then outputs (default f32); i32 converts on load/store */
  types?: readonly (ElementType | 'vec4<f32>')[];
  /**
   * For each input, the operand index of an output whose buffer it is (an in-place update):
   * WebGPU forbids binding one buffer both read-only and writable, so such an input is read
   * through the output's binding and gets none of its own.
   */
  aliases?: readonly (number | undefined)[];
  /**
   * Every operand is i32 and isIntegerExpr(roots): compute in i32 (exact, wrapping as
   * NumPy's int32 does) instead of converting through f32, which is exact only below 2^24.
   */
  intMath?: boolean;
}

/** Integer arithmetic: i32 wraps in WGSL, as int32 does in NumPy and in js.ts's int loops. */
const INT_DIALECT: Dialect = {
  decl: 'let',
  // -2147483648i is a negated literal out of range: spelled as a constant expression instead
  literal: (v) => (v === -(2 ** 31) ? '(-2147483647i - 1i)' : v < 0 ? `(${v}i)` : `${v}i`),
  unary: {
    ...WGSL_UNARY,
    neg: (x) => `-${x}`,
    abs: (x) => `abs(${x})`,
    sign: (x) => `sign(${x})`,
  },
  binary: {
    ...WGSL_BINARY,
    max: (a, b) => `max(${a}, ${b})`,
    min: (a, b) => `min(${a}, ${b})`,
    lt: (a, b) => `select(0i, 1i, ${a} < ${b})`, le: (a, b) => `select(0i, 1i, ${a} <= ${b})`,
    gt: (a, b) => `select(0i, 1i, ${a} > ${b})`, ge: (a, b) => `select(0i, 1i, ${a} >= ${b})`,
    eq: (a, b) => `select(0i, 1i, ${a} == ${b})`, ne: (a, b) => `select(0i, 1i, ${a} != ${b})`,
  },
  select: (c, a, b) => `select(${b}, ${a}, ${c} != 0i)`,
};

export type ElementType = 'f32' | 'i32';

/** Operand k's array in the shader: its own binding, or the output it aliases. */
const arrayOf = (k: number, opts: WgslOptions) => `A${opts.aliases?.[k] ?? k}`;
/** A load of operand k as f32. */
const load = (k: number, at: string, opts: WgslOptions) =>
  (opts.types?.[k] ?? 'f32') === 'i32' ? `f32(${arrayOf(k, opts)}[${at}])` : `${arrayOf(k, opts)}[${at}]`;
/** A store into operand k from an f32 value; an i32 operand saturates as the CPU does. */
function store(k: number, at: string, v: string, opts: WgslOptions, needs: Needs): string {
  if ((opts.types?.[k] ?? 'f32') !== 'i32') return `A${k}[${at}] = ${v};`;
  needs.toI32 = needs.isNan = true;
  return `A${k}[${at}] = to_i32(${v});`;
}

/**
 * An elementwise kernel: invocation i evaluates `roots` at position i of the (collapsed)
 * iteration shape and stores root j into output j. Operands are numbered as in js.ts,
 * inputs first, then outputs; each has an offset and one stride per dim in Params, 0 where
 * it is broadcast, so views and broadcasting read exactly as the JS loop does.
 */
export function renderElementwise(roots: readonly Expr[], nInputs: number, rank: number, opts: WgslOptions = {}): WgslKernel {
  const nOps = nInputs + roots.length;
  const nScalars = countScalars(roots);
  const intMath = opts.intMath === true;
  const params: WgslKernel['params'] = [
    u32('n'), ...range(rank).map((d) => u32(`n${d}`)),
    ...range(nOps).flatMap((k) => [u32(`o${k}`), ...range(rank).map((d) => u32(`s${k}_${d}`))]),
    ...range(nScalars).map((i) => ({ name: `c${i}`, type: intMath ? 'i32' as const : 'f32' as const })),
  ];
  const needs: Needs = { nan: false, inf: false, pow: false };
  const body = renderBody(roots, leafName, intMath ? INT_DIALECT : wgsl(needs));
  const index = (k: number) => [`p.o${k}`, ...range(rank).map((d) => `i${d} * p.s${k}_${d}`)].join(' + ');
  const B: string[] = [...decompose('i', rank, (d) => `p.n${d}`)];
  for (let k = 0; k < nInputs; k++) B.push(`let x${k} = ${intMath ? `${arrayOf(k, opts)}[${index(k)}]` : load(k, index(k), opts)};`);
  for (const line of body.lines) B.push(line);
  body.results.forEach((r, j) => B.push(intMath ? `A${nInputs + j}[${index(nInputs + j)}] = ${r};` : store(nInputs + j, index(nInputs + j), r, opts, needs)));
  return assemble(params, nInputs, roots.length, roots, needs, B, opts);
}

/** The largest rank a strided shape-polymorphic kernel takes; a collapsed layout is padded up to it. */
export const POLY_RANK = 6;

/**
 * The shapes of kernel that every call of a chain runs on, whatever its shapes: 'flat' when
 * the collapsed layout has rank <= 1 (contiguous operands, scalars broadcast with stride 0,
 * any offsets: one element per iteration), 'flat4' when every operand is contiguous (unit
 * stride, no broadcast) from an offset that is a multiple of 4 (f32 only: operands bound as
 * array<vec4<f32>>, one 16-byte load per operand, four elements per iteration), 'strided' for
 * everything else up to POLY_RANK dims.
 */
export type PolyVariant = 'flat' | 'flat4' | 'strided';

/**
 * Elements along the innermost dim that one work item of the 'strided' kernel runs over: its
 * outer index is split once per run. On lavapipe, which has no vector integer division, a
 * (256, 1024) + (1024,) broadcast add took 4.5 ms with every element's index split over all
 * six dims, 9x the contiguous add's 0.49 ms; with runs of 16 elements 1.4-1.8 ms, of 64 0.76-0.90
 * (contiguous 0.52-0.56 in the same runs), of 256 no better. A (256, 1024) transposed view
 * plus a contiguous array: 5.0 ms, then 1.0 ms with runs of 64.
 */
export const STRIDED_RUN = 64;

/**
 * A shape-polymorphic elementwise kernel: sizes, strides and offsets are all uniforms, so one
 * pipeline serves every shape, rank and broadcast pattern of its variant. Workgroup w works
 * on the contiguous block of items [w * span, (w + 1) * span), its invocations a workgroup
 * apart (one coalesced access per iteration), so the launch picks the workgroup count that
 * suits the size and the device (polyLaunch). 'flat4' computes four elements per
 * iteration in vec4<f32>, the chain written once, and loads and stores whole vec4s, the last
 * one too: where n is not a multiple of 4 it writes up to 3 lanes past n in each output, so the
 * caller runs it only where those lanes belong to no array (webgpu/backend.ts: an output that
 * ends where its storage ends, in a buffer whole vec4s long). 'flat' and 'strided' compute one
 * element per iteration in scalars: on lavapipe, which compiles every shader on the CPU, a
 * vec4 body costs ~3x a scalar one to compile, and only the aligned contiguous case earns it
 * back. 'strided' works on runs of up to STRIDED_RUN elements along the innermost dim,
 * splitting a run's outer index over the other dims once (n0..n5; leading dims of size 1 pad
 * a lower rank). Operands and params as renderElementwise's, plus `span` (items per
 * workgroup, a multiple of the workgroup size: polyLaunch's).
 */
export function renderPolymorphic(roots: readonly Expr[], nInputs: number, variant: PolyVariant, opts: WgslOptions = {}): WgslKernel {
  const nOps = nInputs + roots.length;
  const nScalars = countScalars(roots);
  const intMath = opts.intMath === true;
  const flat = variant !== 'strided';
  const rank = flat ? 1 : POLY_RANK;
  const wg = opts.workgroupSize ?? 64;
  if (variant === 'flat4' && !polyIsVec4(opts)) throw new Error('renderPolymorphic: the flat4 variant takes f32 operands and float arithmetic only');
  const params: WgslKernel['params'] = [
    u32('n'), u32('span'), ...(flat ? [] : range(rank).map((d) => u32(`n${d}`))),
    ...range(nOps).flatMap((k) => [u32(`o${k}`), ...range(rank).map((d) => u32(`s${k}_${d}`))]),
    ...range(nScalars).map((i) => ({ name: `c${i}`, type: intMath ? 'i32' as const : 'f32' as const })),
  ];
  const needs: Needs = { nan: false, inf: false, pow: false };
  const B: string[] = [];
  if (variant === 'flat4') {
    // A<k> is array<vec4<f32>>: element e is A[e >> 2][e & 3]. Every operand is contiguous
    // from an offset on a vec4 boundary (the backend sends anything else to 'flat'), so each
    // input is one whole vec4 load: picking a broadcast input's lane as well cost every input
    // a lane pick and a select (lavapipe: ~7% of B3's forward+backward kernel)
    // The size and offsets are read once, before the loop: the compiler cannot tell that the
    // stores leave the uniform buffer alone, and reloading them every iteration cost lavapipe
    // time. b<k> is operand k's first vec4 (offsets are multiples of 4 here). Runtime scalars,
    // though, are read where they are used: hoisted as vec4 splats held across the loop, B3's
    // forward+backward kernel on lavapipe ran at twice its time in about one process in three
    // (the same kernel with literals, or reading p.c<i> in place, never did in 16 processes).
    // Measured again with a fresh device per session (bench/fusion.ts --sessions 8, 24 sessions
    // each): hoisted, 9 ran at 5.6-6.8 ms and the rest at 4.4-5.0, with the literal kernel
    // steady beside them; in place, 21 ran at 4.6-5.1, 5-8% over the literal kernel (whose
    // constants fold), and of the other three two were sessions where every kernel was slow.
    const v = wgsl4(needs);
    const body = renderBody(roots, (leaf) => (leaf.op === 'input' ? `x${leaf.value}` : `vec4<f32>(p.c${leaf.value})`), v);
    B.push('let n = p.n;', ...range(nOps).map((k) => `let b${k} = p.o${k} >> 2u;`));
    // Whole vec4s only, the partial last one too (see above): storing its lanes one by one
    // behind a test of every vec4 against n cost lavapipe, which runs 8 invocations in SIMD
    // and turns a store under a test into a masked store, 4-7% of B3's forward+backward kernel
    // (pooled medians of 30 sessions, each compiling both kernels afresh: 3.80 against 4.09,
    // 4.14 against 4.32, 3.83 against 4.01 ms).
    B.push('let end = min(first + p.span, (n + 3u) / 4u);', `for (var c = first + lid.x; c < end; c += ${wg}u) {`);
    for (let k = 0; k < nInputs; k++) B.push(`  let x${k} = ${arrayOf(k, opts)}[b${k} + c];`);
    B.push(...body.lines.map((l) => `  ${l}`));
    body.results.forEach((r, j) => B.push(`  A${nInputs + j}[b${nInputs + j} + c] = ${r};`));
    B.push('}');
  } else {
    const body = renderBody(roots, leafName, intMath ? INT_DIALECT : wgsl(needs));
    const element = (index: (k: number) => string): string[] => [
      ...range(nInputs).map((k) => `let x${k} = ${intMath ? `${arrayOf(k, opts)}[${index(k)}]` : load(k, index(k), opts)};`),
      ...body.lines,
      ...body.results.map((r, j) => (intMath ? `A${nInputs + j}[${index(nInputs + j)}] = ${r};` : store(nInputs + j, index(nInputs + j), r, opts, needs))),
    ];
    if (flat) {
      B.push('let end = min(first + p.span, p.n);', `for (var e = first + lid.x; e < end; e += ${wg}u) {`, ...element((k) => `p.o${k} + e * p.s${k}_0`).map((l) => `  ${l}`), '}');
    } else {
      // Work items are runs of up to STRIDED_RUN elements along the innermost dim: the outer
      // index is split over dims 0..rank-2 once per run, and each element adds the inner
      // stride. Splitting every element's index over all dims cost lavapipe, which has no
      // vector integer division, ~10 scalar divisions an element (see STRIDED_RUN).
      const inner = rank - 1;
      B.push(
        `let inner = p.n${inner};`,
        ...range(nOps).map((k) => `let d${k} = p.s${k}_${inner};`),
        `let runs = (inner + ${STRIDED_RUN - 1}u) / ${STRIDED_RUN}u;`,
        'let end = min(first + p.span, p.n / inner * runs);',
        `for (var t = first + lid.x; t < end; t += ${wg}u) {`,
        '  let row = t / runs;',
        `  let j0 = (t - row * runs) * ${STRIDED_RUN}u;`,
        ...decompose('row', inner, (d) => `p.n${d}`).map((l) => `  ${l}`),
        ...range(nOps).map((k) => `  let b${k} = ${[`p.o${k}`, ...range(inner).map((d) => `row${d} * p.s${k}_${d}`)].join(' + ')};`),
        `  for (var j = j0; j < min(j0 + ${STRIDED_RUN}u, inner); j++) {`,
        ...element((k) => `b${k} + j * d${k}`).map((l) => `    ${l}`),
        '  }',
        '}',
      );
    }
  }
  const head = [
    `@compute @workgroup_size(${wg})`,
    'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {',
    '  let first = wid.x * p.span;',
  ];
  const types = variant === 'flat4' ? range(nOps).map(() => 'vec4<f32>' as const) : opts.types;
  return assemble(params, nInputs, roots.length, roots, needs, B, { ...opts, types, workgroupSize: wg }, head);
}

/**
 * The work items of a polymorphic kernel over `n` elements: vec4s for 'flat4', elements for
 * 'flat', runs of up to STRIDED_RUN elements of the innermost dim (`inner` long) for 'strided'.
 */
export function polyItems(n: number, variant: PolyVariant, inner = 1): number {
  if (variant === 'strided') return (n / Math.max(inner, 1)) * Math.ceil(inner / STRIDED_RUN);
  return variant === 'flat4' ? Math.ceil(n / 4) : n;
}

/**
 * How to launch a polymorphic kernel over `items` work items: workgroups of `workgroupSize`,
 * each taking a block of `span` items (a multiple of the size). `perLane` is the iterations
 * an invocation should make; `maxGroups` caps the count (a device that runs workgroups on CPU
 * threads wants few, large blocks). At most 65535 workgroups, at least one.
 */
export function polyLaunch(items: number, workgroupSize: number, perLane: number, maxGroups = 65535): { groups: number; span: number } {
  const wanted = Math.min(maxGroups, 65535, Math.ceil(items / (workgroupSize * perLane)));
  const span = Math.max(1, Math.ceil(items / Math.max(1, wanted) / workgroupSize)) * workgroupSize;
  return { groups: Math.max(1, Math.ceil(items / span)), span };
}

/** Whether a chain with these options may run on the flat4 (vec4) kernel. */
export const polyIsVec4 = (opts: WgslOptions): boolean => opts.intMath !== true && (opts.types ?? []).every((t) => t === 'f32');

/** The Params block for renderPolymorphic (layout already collapsed; padded here for 'strided'). */
export function packPolyParams(kernel: WgslKernel, variant: PolyVariant, layout: Layout, scalars: readonly number[], span: number): ArrayBuffer {
  const buf = new ArrayBuffer(Math.ceil((kernel.params.length * 4) / 16) * 16 || 16);
  const u = new Uint32Array(buf), f = new Float32Array(buf), s32 = new Int32Array(buf);
  const rank = variant === 'strided' ? POLY_RANK : 1;
  const pad = rank - layout.shape.length;
  if (pad < 0) throw new Error(`packPolyParams: ${kernel.name} takes rank <= ${rank}, got ${layout.shape.length}`);
  let i = 0;
  u[i++] = layout.shape.reduce((a, b) => a * b, 1);
  u[i++] = span;
  if (variant === 'strided') {
    for (let d = 0; d < pad; d++) u[i++] = 1;
    for (const n of layout.shape) u[i++] = n;
  }
  layout.offsets.forEach((o, k) => {
    u[i++] = o >>> 0;
    i += pad; // zero strides on the padding dims
    for (const x of layout.strides[k]) u[i++] = x >>> 0;
  });
  const needed = kernel.params.length - i;
  if (scalars.length < needed) throw new Error(`packPolyParams: ${kernel.name} reads ${needed} scalars, got ${scalars.length}`);
  for (let j = 0; j < needed; j++, i++) {
    if (kernel.params[i].type === 'i32') s32[i] = scalars[j];
    else f[i] = scalars[j];
  }
  return buf;
}

/**
 * A reduction: one invocation per output element, looping over the reduced positions in
 * a register. `kept` and `reduced` come from splitReduce; inputs carry strides over both,
 * the output (operand nInputs) over the kept dims only. Sums accumulate in f32.
 */
export function renderReduce(
  map: Expr, nInputs: number, keptRank: number, reducedRank: number, op: ReduceOp, opts: WgslOptions = {},
): WgslKernel {
  const nScalars = countScalars([map]);
  // max/min of int32 in i32: through f32 they would round past 2^24 (a sum stays float)
  const intMath = opts.intMath === true && op !== 'sum';
  const params: WgslKernel['params'] = [
    u32('n'), u32('m'), ...range(keptRank).map((d) => u32(`n${d}`)), ...range(reducedRank).map((d) => u32(`m${d}`)),
    ...range(nInputs).flatMap((k) => [
      u32(`o${k}`), ...range(keptRank).map((d) => u32(`s${k}_${d}`)), ...range(reducedRank).map((d) => u32(`r${k}_${d}`)),
    ]),
    u32(`o${nInputs}`), ...range(keptRank).map((d) => u32(`s${nInputs}_${d}`)),
    ...range(nScalars).map((i) => ({ name: `c${i}`, type: intMath ? 'i32' as const : 'f32' as const })),
  ];
  const needs: Needs = { nan: false, inf: false, pow: false };
  const body = renderBody([map], leafName, intMath ? INT_DIALECT : wgsl(needs));
  const base = (k: number) => [`p.o${k}`, ...range(keptRank).map((d) => `i${d} * p.s${k}_${d}`)].join(' + ');
  const B: string[] = [...decompose('i', keptRank, (d) => `p.n${d}`)];
  for (let k = 0; k < nInputs; k++) B.push(`let b${k} = ${base(k)};`);
  B.push(`var acc = ${intMath ? INT_DIALECT.literal(op === 'max' ? -(2 ** 31) : 2 ** 31 - 1) : literal(REDUCE_INIT[op], needs)};`);
  B.push('for (var j = 0u; j < p.m; j++) {');
  const L: string[] = [...decompose('j', reducedRank, (d) => `p.m${d}`)];
  for (let k = 0; k < nInputs; k++) {
    const at = [`b${k}`, ...range(reducedRank).map((d) => `j${d} * p.r${k}_${d}`)].join(' + ');
    L.push(`let x${k} = ${intMath ? `${arrayOf(k, opts)}[${at}]` : load(k, at, opts)};`);
  }
  for (const line of body.lines) L.push(line);
  L.push(`acc = ${intMath ? `${op}(acc, ${body.results[0]})` : REDUCE_COMBINE[op](body.results[0])};`);
  for (const line of L) B.push(`  ${line}`);
  B.push('}');
  if (op !== 'sum' && !intMath) needs.isNan = true;
  B.push(intMath ? `A${nInputs}[${base(nInputs)}] = acc;` : store(nInputs, base(nInputs), 'acc', opts, needs));
  const ops = opts.ops ?? [...primitives([map]), op];
  return assemble(params, nInputs, 1, [map], needs, B, { ...opts, ops });
}

/**
 * A reduction by workgroups: workgroup w reduces chunk g = w % p.groups of output i =
 * w / p.groups, its invocations striding over the chunk and then combining their partial
 * values in a tree in workgroup memory (log2 steps, not one invocation's serial loop), so a
 * long reduction spreads over the whole GPU. With p.groups > 1 each chunk's value goes to
 * its own cell (p.gs apart) and a second pass combines them. Params as renderReduce's, plus
 * groups, chunk and gs.
 */
export function renderReduceTree(
  map: Expr, nInputs: number, keptRank: number, reducedRank: number, op: ReduceOp, opts: WgslOptions = {},
): WgslKernel {
  const wg = opts.workgroupSize ?? 128;
  const nScalars = countScalars([map]);
  const params: WgslKernel['params'] = [
    u32('n'), u32('m'), ...range(keptRank).map((d) => u32(`n${d}`)), ...range(reducedRank).map((d) => u32(`m${d}`)),
    ...range(nInputs).flatMap((k) => [
      u32(`o${k}`), ...range(keptRank).map((d) => u32(`s${k}_${d}`)), ...range(reducedRank).map((d) => u32(`r${k}_${d}`)),
    ]),
    u32(`o${nInputs}`), ...range(keptRank).map((d) => u32(`s${nInputs}_${d}`)),
    ...range(nScalars).map((i) => ({ name: `c${i}`, type: 'f32' as const })),
    u32('groups'), u32('chunk'), u32('gs'),
  ];
  const needs: Needs = { nan: false, inf: false, pow: false };
  const body = renderBody([map], leafName, wgsl(needs));
  const base = (k: number) => [`p.o${k}`, ...range(keptRank).map((d) => `i${d} * p.s${k}_${d}`)].join(' + ');
  const B: string[] = [...decompose('i', keptRank, (d) => `p.n${d}`)];
  for (let k = 0; k < nInputs; k++) B.push(`let b${k} = ${base(k)};`);
  B.push(`var acc = ${literal(REDUCE_INIT[op], needs)};`);
  B.push('let start = g * p.chunk;', 'let end = min(p.m, start + p.chunk);');
  B.push(`for (var j = start + lid; j < end; j += ${wg}u) {`);
  const L: string[] = [...decompose('j', reducedRank, (d) => `p.m${d}`)];
  for (let k = 0; k < nInputs; k++) {
    L.push(`let x${k} = ${load(k, [`b${k}`, ...range(reducedRank).map((d) => `j${d} * p.r${k}_${d}`)].join(' + '), opts)};`);
  }
  L.push(...body.lines, `acc = ${REDUCE_COMBINE[op](body.results[0])};`);
  B.push(...L.map((l) => `  ${l}`), '}');
  B.push('sh[lid] = acc;');
  B.push(`for (var s = ${wg / 2}u; s > 0u; s >>= 1u) {`, '  workgroupBarrier();', `  if (lid < s) { ${REDUCE_PAIR[op]('sh[lid]', 'sh[lid + s]')} }`, '}');
  if (op !== 'sum') needs.isNan = true;
  B.push(`if (lid == 0u) { ${store(nInputs, `${base(nInputs)} + g * p.gs`, 'sh[0]', opts, needs)} }`);
  const ops = opts.ops ?? [...primitives([map]), op];
  const head = [
    `var<workgroup> sh: array<f32, ${wg}>;`,
    '',
    `@compute @workgroup_size(${wg})`,
    'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {',
    // the same for every invocation of a workgroup, so the barriers below stay in uniform control flow
    '  let w = wid.x + wid.y * nwg.x;',
    '  if (w >= p.n * p.groups) { return; }',
    '  let i = w / p.groups;',
    '  let g = w % p.groups;',
  ];
  return assemble(params, nInputs, 1, [map], needs, B, { ...opts, ops, workgroupSize: wg }, head);
}

/** `a = combine(a, b)` between two partial values, the NaN rule as REDUCE_COMBINE's. */
const REDUCE_PAIR: { [O in ReduceOp]: (a: string, b: string) => string } = {
  sum: (a, b) => `${a} = ${a} + ${b};`,
  max: (a, b) => `${a} = select(${a}, ${b}, (${b} > ${a} && !is_nan(${a})) || is_nan(${b}));`,
  min: (a, b) => `${a} = select(${a}, ${b}, (${b} < ${a} && !is_nan(${a})) || is_nan(${b}));`,
};

const REDUCE_INIT: { [O in ReduceOp]: number } = { sum: 0, max: -Infinity, min: Infinity };
const REDUCE_COMBINE: { [O in ReduceOp]: (v: string) => string } = {
  sum: (v) => `acc + ${v}`,
  // `v != v` keeps a NaN once seen, as js.ts and numpy do
  max: (v) => `select(acc, ${v}, (${v} > acc && !is_nan(acc)) || is_nan(${v}))`,
  min: (v) => `select(acc, ${v}, (${v} < acc && !is_nan(acc)) || is_nan(${v}))`,
};

/**
 * Split a reduction's iteration space for renderReduce: `kept` walks the output positions
 * (inputs, then the output), `reduced` walks one output's inputs (inputs only); each is
 * collapsed on its own.
 */
export function splitReduce(
  shape: readonly number[], axes: readonly number[],
  inputs: { strides: readonly (readonly number[])[]; offsets: readonly number[] },
  output: { strides: readonly number[]; offset: number },
): { kept: Layout; reduced: Layout } {
  const keptDims = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const redDims = shape.map((_, d) => d).filter((d) => axes.includes(d));
  const pick = (dims: number[], s: readonly number[]) => dims.map((d) => s[d]);
  return {
    kept: collapse({
      shape: pick(keptDims, shape),
      strides: [...inputs.strides.map((s) => pick(keptDims, s)), pick(keptDims, output.strides)],
      offsets: [...inputs.offsets, output.offset],
    }),
    reduced: collapse({ shape: pick(redDims, shape), strides: inputs.strides.map((s) => pick(redDims, s)), offsets: [] }),
  };
}

/** The Params block for an elementwise kernel, as the bytes of a uniform buffer. */
export function packElementwiseParams(kernel: WgslKernel, layout: Layout, scalars: readonly number[]): ArrayBuffer {
  // Filled by position, in renderElementwise's field order: this runs once per dispatch, and
  // building a name-keyed record first cost more than the rest of the launch's JS.
  const buf = new ArrayBuffer(Math.ceil((kernel.params.length * 4) / 16) * 16 || 16);
  const u = new Uint32Array(buf), f = new Float32Array(buf), s32 = new Int32Array(buf);
  let i = 0;
  u[i++] = layout.shape.reduce((a, b) => a * b, 1);
  for (const n of layout.shape) u[i++] = n;
  layout.offsets.forEach((o, k) => {
    u[i++] = o >>> 0;
    for (const x of layout.strides[k]) u[i++] = x >>> 0;
  });
  // the kernel declares scalars up to the highest one it reads; callers may pass more
  const needed = kernel.params.length - i;
  if (scalars.length < needed) throw new Error(`packElementwiseParams: ${kernel.name} reads ${needed} scalars, got ${scalars.length}`);
  for (let j = 0; j < needed; j++, i++) {
    if (kernel.params[i].type === 'i32') s32[i] = scalars[j];
    else f[i] = scalars[j];
  }
  return buf;
}

/** The Params block for a reduction kernel (layouts from splitReduce; `extra`: renderReduceTree's groups, chunk, gs). */
export function packReduceParams(kernel: WgslKernel, kept: Layout, reduced: Layout, scalars: readonly number[], extra: Readonly<Record<string, number>> = {}): ArrayBuffer {
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const v: Record<string, number> = { n: size(kept.shape), m: size(reduced.shape) };
  kept.shape.forEach((n, d) => (v[`n${d}`] = n));
  reduced.shape.forEach((n, d) => (v[`m${d}`] = n));
  kept.offsets.forEach((o, k) => (v[`o${k}`] = o));
  kept.strides.forEach((s, k) => s.forEach((x, d) => (v[`s${k}_${d}`] = x)));
  reduced.strides.forEach((s, k) => s.forEach((x, d) => (v[`r${k}_${d}`] = x)));
  scalars.forEach((c, i) => (v[`c${i}`] = c));
  return packParams(kernel, { ...v, ...extra });
}

/**
 * Fill the Params fields in order. Strides go in as u32 even when negative: u32 arithmetic
 * wraps, so the sum still lands on the right element. Padded to 16 bytes for uniforms.
 */
export function packParams(kernel: WgslKernel, values: Readonly<Record<string, number>>): ArrayBuffer {
  const buf = new ArrayBuffer(Math.ceil((kernel.params.length * 4) / 16) * 16 || 16);
  const u = new Uint32Array(buf), f = new Float32Array(buf);
  kernel.params.forEach(({ name, type }, i) => {
    const x = values[name];
    if (x === undefined) throw new Error(`packParams: ${kernel.name} needs a value for ${name}`);
    if (type === 'f32') f[i] = x;
    else if (type === 'i32') u[i] = x | 0;
    else u[i] = x >>> 0;
  });
  return buf;
}

/** Workgroup counts for n invocations: y takes over past the 65535-per-dimension limit. */
export function dispatchSize(n: number, workgroupSize = 64): [number, number, number] {
  const groups = Math.ceil(n / workgroupSize);
  const x = Math.min(groups, 65535);
  return [Math.max(x, 1), x === 0 ? 1 : Math.ceil(groups / x), 1];
}

// ---- assembly --------------------------------------------------------------------------

function assemble(
  params: WgslKernel['params'], nInputs: number, nOutputs: number, roots: readonly Expr[],
  needs: Needs, body: string[], opts: WgslOptions,
  head?: readonly string[],
): WgslKernel {
  const wg = opts.workgroupSize ?? 64;
  const limit = opts.maxStorageBuffers ?? 8;
  const ownInputs = range(nInputs).filter((k) => opts.aliases?.[k] === undefined);
  if (ownInputs.length + nOutputs > limit) {
    // better said here than as a pipeline error: the fusion planner must split such a chain
    throw new Error(`wgsl: ${ownInputs.length} inputs + ${nOutputs} outputs need ${ownInputs.length + nOutputs} storage buffers; the device allows ${limit}`);
  }
  const bindings: WgslBinding[] = [
    ...ownInputs.map((k): WgslBinding => ({ binding: k, name: `A${k}`, role: 'input', access: 'read' })),
    ...range(nOutputs).map((j): WgslBinding => ({ binding: nInputs + j, name: `A${nInputs + j}`, role: 'output', access: 'read_write' })),
    { binding: nInputs + nOutputs, name: 'p', role: 'params', access: 'uniform' },
  ];
  const S: string[] = [];
  S.push('struct Params {', ...params.map((f) => `  ${f.name}: ${f.type},`), '}', '');
  for (const b of bindings) {
    const decl = b.access === 'uniform' ? 'var<uniform> p: Params' : `var<storage, ${b.access}> ${b.name}: array<${opts.types?.[b.binding] ?? 'f32'}>`;
    S.push(`@group(0) @binding(${b.binding}) ${decl};`);
  }
  S.push('');
  if (needs.nan || needs.inf) {
    S.push('// no NaN/Inf literals in WGSL, and constant ones are creation errors: read the bits');
    if (needs.nan) S.push(SPECIAL.nan.decl);
    if (needs.inf) S.push(SPECIAL.inf.decl);
    S.push('');
  }
  if (needs.pow) S.push(POW_REAL, '');
  if (needs.isNan) S.push(IS_NAN, '');
  if (needs.maxNan) S.push(MAX_NAN, '');
  if (needs.div) S.push(DIV_REAL, '');
  if (needs.toI32) S.push(TO_I32, '');
  if (needs.sigmoid) S.push(SIGMOID, '');
  if (needs.tanh) S.push(TANH, '');
  if (needs.vec4) S.push(...helpers4(needs));
  S.push(
    ...(head ?? [
      `@compute @workgroup_size(${wg})`,
      'fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {',
      // a second grid dimension carries launches past 65535 workgroups (see dispatchSize)
      `  let i = gid.x + gid.y * nwg.x * ${wg}u;`,
      '  if (i >= p.n) { return; }',
    ]),
  );
  // a loop, not push(...body): a body of thousands of lines would overflow the stack
  for (const l of body) S.push(`  ${l}`);
  S.push('}');
  const source = S.join('\n') + '\n';
  const ops = (opts.ops ?? primitives(roots)).slice(0, 6);
  const name = `fused_${ops.length > 0 ? ops.join('_') + '_' : ''}${hash64(source)}`;
  return {
    name,
    source: `// ${name}: generated by kusari compiler/wgsl.ts; do not edit.\n${source}`,
    entryPoint: 'main',
    workgroupSize: wg,
    bindings,
    params,
  };
}

/** `let <v>0..` from the flat index: row-major, innermost dim fastest, as the JS loop nests. */
function decompose(v: string, rank: number, size: (d: number) => string): string[] {
  if (rank === 1) return [`let ${v}0 = ${v};`];
  const L = [`var r${v} = ${v};`];
  for (let d = rank - 1; d > 0; d--) L.push(`let ${v}${d} = r${v} % ${size(d)}; r${v} /= ${size(d)};`);
  L.push(`let ${v}0 = r${v};`);
  return L;
}

/** The distinct primitives of `roots`, in evaluation order (leaves left out). */
function primitives(roots: readonly Expr[]): string[] {
  return [...new Set(topoSort(roots).filter((e) => e.args.length > 0).map((e) => e.op))];
}

const leafName = (leaf: Expr): string => (leaf.op === 'input' ? `x${leaf.value}` : `p.c${leaf.value}`);
const u32 = (name: string) => ({ name, type: 'u32' as const });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * 64-bit FNV-1a as 16 hex digits: kernel names carry it, and pipeline caches key on names, so
 * 32 bits (a collision expected after ~65,000 kernels) were too few. Two 32-bit halves with
 * Math.imul instead of BigInt: same answer, ~20x faster.
 */
export function hash64(text: string): string {
  // FNV-1a 64: offset 0xcbf29ce484222325, prime 0x100000001b3 = 2^40 + 0x1b3
  let hi = 0xcbf29ce4, lo = 0x84222325;
  for (let i = 0; i < text.length; i++) {
    lo ^= text.charCodeAt(i);
    // (hi:lo) * (2^40 + 0x1b3) mod 2^64, in 16-bit pieces of lo to keep products exact
    const loL = lo & 0xffff, loH = lo >>> 16;
    const a = loL * 0x1b3;
    const b = loH * 0x1b3 + (a >>> 16);
    const newLo = ((b & 0xffff) << 16) | (a & 0xffff);
    const carry = Math.floor(b / 0x10000);
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) | 0;
    lo = newLo;
  }
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

/** 32-bit FNV-1a as 8 hex digits: stable across runs and platforms, cheap, no deps. */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
