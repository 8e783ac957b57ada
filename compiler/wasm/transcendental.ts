// f32x4 exp, log, tanh and sigmoid for the WebAssembly renderer: Cody-Waite range reduction and the
// Cephes single-precision polynomials, with NaN, infinities, overflow, underflow, denormals
// and signed zeros handled as Math.* (rounded to float32) handles them.

import { Code, type Local } from './encoder.js';

/**
 * Loop-invariant constants: `f(v)` a local holding v splat over four f32 lanes, `i(v)` one
 * holding the i32 v in four lanes. The renderer hoists them out of its loops (see
 * `transcendentalConstants`), so a polynomial costs its multiply-adds and nothing else.
 */
export interface Consts {
  f(v: number): Local<'v128'>;
  i(v: number): Local<'v128'>;
}

export type TranscendentalOp = 'exp' | 'log' | 'tanh' | 'sigmoid';

// exp: x = n ln2 + r with |r| <= ln2 / 2; ln2 split in two (C1 has 9 significant bits, so
// n * C1 is exact for every |n| <= 150)
const LOG2E = 1.44269504088896341;
const LN2_HI = 0.693359375, LN2_LO = -2.12194440e-4;
// exp(r) ~ 1 + r + r^2 P(r) on |r| <= ln2 / 2 (Cephes expf)
const EXP_P = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
// log(1 + m) ~ m - m^2 / 2 + m^3 P(m) on sqrt(1/2) - 1 <= m < sqrt(2) - 1 (Cephes logf)
const LOG_P = [
  7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
];
const SQRT_HALF = 0.707106781186547524;
// tanh(a) ~ a + a^3 P(a^2) below 0.625 (Cephes tanhf); above, 1 - 2 / (exp(2a) + 1)
const TANH_P = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1];
const TANH_SMALL = 0.625;

/** Horner: leaves ((p0 t + p1) t + ...) + p_last on the stack. */
function horner(c: Code, k: Consts, coeffs: readonly number[], t: Local<'v128'>): void {
  c.get(k.f(coeffs[0]));
  for (const p of coeffs.slice(1)) c.get(t).f32x4Mul().get(k.f(p)).f32x4Add();
}

/**
 * exp on the four lanes of `x`, left on the stack. Inputs are clamped to [-104, 89], where
 * exp already underflows to 0 / overflows to Infinity, so the exponent n stays in [-150, 128];
 * 2^n is applied as two normal powers of two, so results in the denormal range round once,
 * and NaN passes through (min/max keep it, and the polynomial of NaN is NaN).
 */
export function emitExp(c: Code, k: Consts, x: Local<'v128'>): void {
  const xc = c.local('v128'), n = c.local('v128'), r = c.local('v128'), ni = c.local('v128'), half = c.local('v128');
  c.get(x).get(k.f(-104)).f32x4Max().get(k.f(89)).f32x4Min().set(xc);
  c.get(xc).get(k.f(LOG2E)).f32x4Mul().f32x4Nearest().set(n);
  c.get(xc).get(n).get(k.f(LN2_HI)).f32x4Mul().f32x4Sub().get(n).get(k.f(LN2_LO)).f32x4Mul().f32x4Sub().set(r);
  // p = 1 + r + r^2 P(r)
  horner(c, k, EXP_P, r);
  c.get(r).get(r).f32x4Mul().f32x4Mul().get(r).f32x4Add().get(k.f(1)).f32x4Add();
  // * 2^(n >> 1) * 2^(n - (n >> 1)), each built in the exponent field
  c.get(n).i32x4TruncSatF32x4S().set(ni);
  c.get(ni).i32Const(1).i32x4ShrS().set(half);
  c.get(half).get(k.i(127)).i32x4Add().i32Const(23).i32x4Shl().f32x4Mul();
  c.get(ni).get(half).i32x4Sub().get(k.i(127)).i32x4Add().i32Const(23).i32x4Shl().f32x4Mul();
}

/**
 * log on the four lanes of `x`, left on the stack: x = 2^e (1 + m), denormals scaled by 2^23
 * first; log(+-0) = -Infinity, log(x < 0) = NaN, log(Infinity) = Infinity, NaN stays NaN.
 */
export function emitLog(c: Code, k: Consts, x: Local<'v128'>): void {
  const tiny = c.local('v128'), bits = c.local('v128'), e = c.local('v128'), m = c.local('v128');
  const small = c.local('v128'), fe = c.local('v128'), z = c.local('v128'), y = c.local('v128');
  // below the smallest normal: scale up by 2^23 (exact) and take 23 off the exponent
  c.get(x).get(k.f(2 ** -126)).f32x4Lt().set(tiny);
  c.get(x).get(k.f(2 ** 23)).f32x4Mul().get(x).get(tiny).v128Bitselect().set(bits);
  c.get(bits).i32Const(23).i32x4ShrU().get(k.i(126)).i32x4Sub().get(tiny).get(k.i(23)).v128And().i32x4Sub().set(e);
  // mantissa in [0.5, 1); below sqrt(1/2) take 2m and one off the exponent (the mask is -1)
  c.get(bits).get(k.i(0x007fffff)).v128And().get(k.i(0x3f000000)).v128Or().set(m);
  c.get(m).get(k.f(SQRT_HALF)).f32x4Lt().set(small);
  c.get(e).get(small).i32x4Add().f32x4ConvertI32x4S().set(fe);
  c.get(m).get(m).get(small).v128And().f32x4Add().get(k.f(1)).f32x4Sub().set(m);
  c.get(m).get(m).f32x4Mul().set(z);
  horner(c, k, LOG_P, m);
  c.get(m).f32x4Mul().get(z).f32x4Mul();
  c.get(fe).get(k.f(LN2_LO)).f32x4Mul().f32x4Add();
  c.get(z).get(k.f(-0.5)).f32x4Mul().f32x4Add();
  c.get(m).f32x4Add();
  c.get(fe).get(k.f(LN2_HI)).f32x4Mul().f32x4Add().set(y);
  // specials, last wins: x < 0 or NaN -> NaN, +-0 -> -Infinity, Infinity -> Infinity
  c.get(y).get(k.f(NaN)).get(x).get(k.f(0)).f32x4Ge().v128Bitselect().set(y);
  c.get(k.f(-Infinity)).get(y).get(x).get(k.f(0)).f32x4Eq().v128Bitselect().set(y);
  c.get(x).get(y).get(x).get(k.f(Infinity)).f32x4Eq().v128Bitselect();
}

/**
 * tanh on the four lanes of `x`, left on the stack: on a = |x|, the odd polynomial below
 * 0.625 (exact for tiny and denormal a), 1 - 2 / (exp(2a) + 1) above (1 once exp overflows),
 * then x's sign copied on, so tanh(-0) = -0 and NaN stays NaN.
 */
export function emitTanh(c: Code, k: Consts, x: Local<'v128'>): void {
  const a = c.local('v128'), z = c.local('v128'), twoA = c.local('v128');
  c.get(x).f32x4Abs().set(a);
  c.get(a).get(a).f32x4Mul().set(z);
  c.get(a).get(a).f32x4Add().set(twoA);
  // stack: small branch, large branch, mask -> bitselect
  horner(c, k, TANH_P, z);
  c.get(z).f32x4Mul().get(a).f32x4Mul().get(a).f32x4Add();
  c.get(k.f(1)).get(k.f(2));
  emitExp(c, k, twoA);
  c.get(k.f(1)).f32x4Add().f32x4Div().f32x4Sub();
  c.get(a).get(k.f(TANH_SMALL)).f32x4Lt().v128Bitselect();
  // copysign(y, x): the sign bit from x, the rest from y
  c.set(a);
  c.get(x).get(a).get(k.i(0x80000000 | 0)).v128Bitselect();
}

/**
 * sigmoid on the four lanes of `x`, left on the stack, as compiler/expr.ts's sigmoid(): with
 * e = exp(-|x|) <= 1 (never overflows), 1 / (1 + e) where x >= 0 and e / (1 + e) elsewhere, so
 * the negative tail follows e^x down; NaN fails x >= 0 and stays NaN through e.
 */
export function emitSigmoid(c: Code, k: Consts, x: Local<'v128'>): void {
  const na = c.local('v128'), e = c.local('v128');
  c.get(x).f32x4Abs().f32x4Neg().set(na);
  emitExp(c, k, na);
  c.set(e);
  // (x >= 0 ? 1 : e) / (1 + e): one division either way, so one rounding after exp's
  c.get(k.f(1)).get(e).get(x).get(k.f(0)).f32x4Ge().v128Bitselect();
  c.get(k.f(1)).get(e).f32x4Add().f32x4Div();
}

/** Emit `op` on the lanes of `x`, result on the stack. */
export function emitTranscendental(c: Code, k: Consts, op: TranscendentalOp, x: Local<'v128'>): void {
  switch (op) {
    case 'exp': emitExp(c, k, x); return;
    case 'log': emitLog(c, k, x); return;
    case 'tanh': emitTanh(c, k, x); return;
    case 'sigmoid': emitSigmoid(c, k, x); return;
    default: op satisfies never;
  }
}

/**
 * The constants `op` uses, found by emitting it once into a scratch body: the renderer
 * creates them before its loops, so they are loop-invariant locals.
 */
export function transcendentalConstants(op: TranscendentalOp): { f: number[]; i: number[] } {
  const f: number[] = [], i: number[] = [];
  const scratch = new Code(['v128']);
  const rec: Consts = {
    f: (v) => (f.push(v), scratch.local('v128')),
    i: (v) => (i.push(v), scratch.local('v128')),
  };
  emitTranscendental(scratch, rec, op, scratch.param(0, 'v128'));
  return { f: [...new Set(f)], i: [...new Set(i)] };
}
