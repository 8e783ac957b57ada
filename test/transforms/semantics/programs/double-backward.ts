// Semantics program: double backward (a gradient penalty) through chains, so the fused backward is itself differentiated.

import { F, seed, type Variable } from 'kusari';
import { normal, type Recorder } from '../outcome.js';

/** B3 with parameters: tanh(x a + b) sigmoid(x) + x^2 / 2. */
export function forward(x: Variable, a: Variable, b: Variable): Variable {
  return F.tanh(x.mul(a).add(b)).mul(F.sigmoid(x)).add(x.mul(x).mul(0.5));
}

export async function run(r: Recorder): Promise<void> {
  seed(4);
  const x = normal(r, [3, 5], 71);
  const a = normal(r, [5], 72, { scale: 0.7 });
  const b = normal(r, [3, 1], 73, { scale: 0.3 });
  const y = forward(x, a, b);
  F.sum(y).backward({ enableDoubleBackprop: true });
  const gx = x.gradVar;
  if (gx === null || gx.creator === null) throw new Error('double-backward: the first gradient should be recorded as a graph');
  await r.value('y', y);
  await r.value('gx', gx);
  await r.grad('a first', a);
  await r.grad('b first', b);
  // the penalty on the input gradient, differentiated to every leaf
  const penalty = F.sum(gx.mul(gx));
  x.cleargrad();
  a.cleargrad();
  b.cleargrad();
  penalty.backward();
  await r.value('penalty', penalty);
  await r.grad('x', x);
  await r.grad('a', a);
  await r.grad('b', b);
}
