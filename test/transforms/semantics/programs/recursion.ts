// Semantics program: a recursive free function named forward (a binary tree of calls), each level one chain.

import { F, seed, type Variable } from 'kusari';
import { normal, type Recorder } from '../outcome.js';

/** Depth-first: the two halves of the tree see differently scaled inputs, then merge. */
export function forward(x: Variable, w: Variable, depth: number): Variable {
  if (depth === 0) return F.sigmoid(x.mul(w).sub(0.5)).mul(x);
  const left = forward(F.tanh(x.mul(0.9).add(w)), w, depth - 1);
  const right = forward(x.mul(x).mul(-0.5).add(w), w, depth - 1);
  return left.mul(right).add(x.mul(0.25)).add(F.tanh(left.sub(right)));
}

export async function run(r: Recorder): Promise<void> {
  seed(3);
  const x = normal(r, [2, 7], 31);
  const w = normal(r, [7], 32, { scale: 0.5 });
  for (const depth of [0, 1, 3]) {
    x.cleargrad();
    w.cleargrad();
    const y = forward(x, w, depth);
    F.sum(y).backward();
    await r.value(`y${depth}`, y);
    await r.grad(`x${depth}`, x);
    await r.grad(`w${depth}`, w);
  }
}
