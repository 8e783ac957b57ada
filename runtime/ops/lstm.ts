// F.lstm: one LSTM step with Chainer's interleaved gate layout, composed of elementwise ops.

import { shapeStr } from '../array/ndarray.js';
import { Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { sigmoid, tanh } from './activation.js';
import { add, mul } from './arithmetic.js';
import { concat, getItem, slice, splitAxis } from './indexing.js';
import { reshape } from './shape.js';

/**
 * One LSTM step (Chainer's F.lstm): returns [c, h]. x is (B, 4H, ...) with the gates
 * interleaved per unit, as Chainer lays them out: viewing x as (B, H, 4, ...), index 0 of
 * the third axis is the input a, then the gates i, f, o. Then
 *
 *   c = tanh(a) sigmoid(i) + sigmoid(f) cPrev,   h = sigmoid(o) tanh(c).
 *
 * cPrev is (B', H, ...) with B' >= B: rows past B (sequences that have ended) keep their
 * cell state, and h has only B rows.
 *
 * ```ts
 * const [c, h] = F.lstm(c, F.add(upward.forward(x), lateral.forward(h)));
 * ```
 */
export function lstm(cPrev: VariableLike, x: VariableLike): [Variable, Variable] {
  const c0 = argVariable(cPrev, 'lstm', 'cPrev'), xv = argVariable(x, 'lstm', 'x');
  if (xv.ndim < 2 || xv.shape[1] % 4 !== 0) {
    throw new Error(`lstm: x must be (B, 4H, ...) with axis 1 a multiple of 4, got x ${shapeStr(xv.shape)}`);
  }
  const [batch, units] = [xv.shape[0], xv.shape[1] / 4];
  const rest = xv.shape.slice(2);
  const want = [units, ...rest];
  if (c0.ndim !== xv.ndim || c0.shape.slice(1).some((n, i) => n !== want[i]) || c0.shape[0] < batch) {
    throw new Error(`lstm: cPrev ${shapeStr(c0.shape)} does not match x ${shapeStr(xv.shape)}: expected cPrev (B', ${want.join(', ')}) with B' >= ${batch}`);
  }
  // splitAxis, not four getItems: its backward is one concat, not four scatters into zeros
  const gates = splitAxis(reshape(xv, [batch, units, 4, ...rest]), 4, 2).map((g) => reshape(g, [batch, units, ...rest]));
  const [a, i, f, o] = [tanh(gates[0]), sigmoid(gates[1]), sigmoid(gates[2]), sigmoid(gates[3])];
  const live = c0.shape[0] === batch ? c0 : getItem(c0, slice(0, batch));
  const c = add(mul(a, i), mul(f, live));
  const h = mul(o, tanh(c));
  if (c0.shape[0] === batch) return [c, h];
  return [concat([c, getItem(c0, slice(batch, null))], 0), h];
}
