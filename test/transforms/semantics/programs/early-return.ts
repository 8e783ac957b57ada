// Semantics program: early returns on an argument and on data, with chains before, between and after them.

import { F, seed, type Variable } from 'kusari';
import { normal, type Recorder } from '../outcome.js';

export type Mode = 'log' | 'gate' | 'full';

/** Which return each call took, for the program's own check. */
export const exits: string[] = [];

/** Returns at the first point its mode allows, or when the data are all positive. */
export async function forward(x: Variable, b: Variable, mode: Mode): Promise<Variable> {
  const u = x.mul(x).add(b).add(1).log();
  if (mode === 'log') return u.mul(2).sub(1);
  const v = F.tanh(u.sub(x)).mul(u);
  if (mode === 'gate') {
    return v.add(b);
  }
  if ((await F.min(v).data.item()) > 0) {
    exits.push('positive');
    return v.mul(v).add(u);
  }
  exits.push('last');
  return F.sigmoid(v).add(u).mul(0.5).add(F.relu(x.neg()));
}

export async function run(r: Recorder): Promise<void> {
  seed(2);
  exits.length = 0;
  const b = normal(r, [4], 21, { scale: 0.1, mean: 0.5 });
  const cases: [Mode, number][] = [['log', 0], ['gate', 0], ['full', 0], ['full', -2]];
  for (const [i, [mode, mean]] of cases.entries()) {
    b.cleargrad();
    const x = normal(r, [3, 4], 22 + i, { mean });
    const y = await forward(x, b, mode);
    F.sum(y).backward();
    await r.value(`y${i} ${mode}`, y);
    await r.grad(`x${i}`, x);
    await r.grad(`b${i}`, b);
  }
  if (exits.join() !== 'last,positive') throw new Error(`early-return: the two full calls should leave by different returns, left by ${exits.join(', ')}`);
}
