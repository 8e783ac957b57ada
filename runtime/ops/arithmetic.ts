// Arithmetic ops, each declared once as an IR expression (forward, backward and fusion derive from it).

import { select } from '../../compiler/expr.js';
import type { Variable, VariableLike } from '../graph/variable.js';
import { elementwise } from './elementwise.js';

// int32 in, int32 out (NumPy's rule); div, pow, exp, log, sqrt give floats
const INT = { intClosed: true };

/** y = x + y (broadcasting) */
export const add = elementwise('add', ['x', 'y'], (x, y) => x.add(y), INT);
/** y = x - y */
export const sub = elementwise('sub', ['x', 'y'], (x, y) => x.sub(y), INT);
/** y = x * y */
export const mul = elementwise('mul', ['x', 'y'], (x, y) => x.mul(y), INT);
/** y = x / y */
export const div = elementwise('div', ['x', 'y'], (x, y) => x.div(y));
/** y = x ** y */
export const pow = elementwise('pow', ['x', 'y'], (x, y) => x.pow(y));
/** y = -x */
export const neg = elementwise('neg', ['x'], (x) => x.neg(), INT);
/** y = e^x */
export const exp = elementwise('exp', ['x'], (x) => x.exp());
/** y = ln x */
export const log = elementwise('log', ['x'], (x) => x.log());
/** y = sqrt(x) */
export const sqrt = elementwise('sqrt', ['x'], (x) => x.sqrt());
/** y = |x| (gradient sign(x), 0 at 0) */
export const abs = elementwise('abs', ['x'], (x) => x.abs(), INT);
/** y = max(x, y) elementwise; ties send the gradient to x, as in Chainer. */
export const maximum = elementwise('maximum', ['x', 'y'], (x, y) => x.max(y), INT);
/** y = min(x, y) elementwise; ties send the gradient to x. */
export const minimum = elementwise('minimum', ['x', 'y'], (x, y) => x.min(y), INT);
/** y = cond ? x : y elementwise, cond non-zero meaning true; no gradient flows to cond. */
export const where = elementwise('where', ['condition', 'x', 'y'], (c, x, y) => select(c, x, y), INT);

const clipOp = elementwise('clip', ['x', 'xMin', 'xMax'], (x, lo, hi) => x.max(lo).min(hi), INT);
/** y = min(max(x, xMin), xMax); the gradient passes where xMin <= x <= xMax. */
export function clip(x: VariableLike, xMin: number, xMax: number): Variable {
  if (!(xMin <= xMax)) throw new Error(`clip: xMin (${xMin}) must not exceed xMax (${xMax})`);
  return clipOp(x, xMin, xMax);
}
