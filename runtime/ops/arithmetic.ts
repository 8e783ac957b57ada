// Arithmetic ops, each one row of the elementwise table (forward, backward and fusion derive from it).

import { input, select } from '../../compiler/expr.js';
import { libraryKernels } from '../array/library-kernels.js';
import type { Variable, VariableLike } from '../graph/variable.js';
import { elementwise, withDef } from './elementwise.js';

// int32 in, int32 out (NumPy's rule); div, pow, exp, log, sqrt give floats
const INT = { intClosed: true } as const;

/** y = x + y (broadcasting) */
export const add = elementwise({ name: 'add', args: ['x', 'y'], build: (x, y) => x.add(y), ...INT });
// A built app creates add's float32 kernels in the background (fusion/background.ts): backward
// accumulates every gradient used twice with it, and residual and bias adds outside a chain use it.
libraryKernels(() => [{ roots: [add.def.build(input(0), input(1))], inputs: ['float32', 'float32'], outputs: ['float32'] }]);

/** y = x - y */
export const sub = elementwise({ name: 'sub', args: ['x', 'y'], build: (x, y) => x.sub(y), ...INT });
/** y = x * y */
export const mul = elementwise({ name: 'mul', args: ['x', 'y'], build: (x, y) => x.mul(y), ...INT });
/** y = x / y */
export const div = elementwise({ name: 'div', args: ['x', 'y'], build: (x, y) => x.div(y) });
/** y = x ** y */
export const pow = elementwise({ name: 'pow', args: ['x', 'y'], build: (x, y) => x.pow(y) });
/** y = -x */
export const neg = elementwise({ name: 'neg', args: ['x'], build: (x) => x.neg(), ...INT });
/** y = e^x */
export const exp = elementwise({ name: 'exp', args: ['x'], build: (x) => x.exp() });
/** y = ln x */
export const log = elementwise({ name: 'log', args: ['x'], build: (x) => x.log() });
/** y = sqrt(x) */
export const sqrt = elementwise({ name: 'sqrt', args: ['x'], build: (x) => x.sqrt() });
/** y = |x| (gradient sign(x), 0 at 0) */
export const abs = elementwise({ name: 'abs', args: ['x'], build: (x) => x.abs(), ...INT });
/** y = max(x, y) elementwise; ties send the gradient to x, as in Chainer. */
export const maximum = elementwise({ name: 'maximum', args: ['x', 'y'], build: (x, y) => x.max(y), ...INT });
/** y = min(x, y) elementwise; ties send the gradient to x. */
export const minimum = elementwise({ name: 'minimum', args: ['x', 'y'], build: (x, y) => x.min(y), ...INT });
/** y = cond ? x : y elementwise, cond non-zero meaning true; no gradient flows to cond. */
export const where = elementwise({ name: 'where', args: ['condition', 'x', 'y'], build: (c, x, y) => select(c, x, y), ...INT });

const clipOp = elementwise({
  name: 'clip', args: ['x', 'xMin', 'xMax'], kinds: { xMin: 'number', xMax: 'number' }, ...INT,
  build: (x, lo, hi) => x.max(lo).min(hi),
  check: (_, xMin, xMax) => {
    if (!((xMin as number) <= (xMax as number))) throw new Error(`clip: xMin (${String(xMin)}) must not exceed xMax (${String(xMax)})`);
  },
});
/** y = min(max(x, xMin), xMax); the gradient passes where xMin <= x <= xMax. */
export const clip = withDef(clipOp, (x: VariableLike, xMin: number, xMax: number): Variable => clipOp(x, xMin, xMax));
