// Semantics program: if/else on data (a value read inside an async forward picks the branch), each branch its own chain.

import { F, L, seed, type Variable } from 'kusari';
import { normal, type Recorder } from '../outcome.js';

/** A layer whose second half depends on the sign of the first half's sum. */
export class SignGate extends L.Chain {
  readonly l = new L.Linear(6, 6);
  taken: string[] = [];

  async forward(x: Variable): Promise<Variable> {
    const h = F.tanh(this.l.forward(x).mul(0.5).add(0.25));
    const s = await h.sum().data.item();
    if (s > 0) {
      this.taken.push('positive');
      return F.sigmoid(h.mul(2)).mul(h).add(x);
    } else {
      this.taken.push('negative');
      return F.relu(h.sub(x)).mul(h.add(1)).sub(F.exp(h.neg()));
    }
  }
}

export async function run(r: Recorder): Promise<void> {
  seed(11);
  const model = new SignGate();
  if (r.device === 'webgpu') model.toGpu();
  // means that push the sum of h to either side, so both branches run
  for (const [i, mean] of [[0, 3], [1, -3], [2, 2]] as const) {
    model.cleargrads();
    const x = normal(r, [4, 6], 100 + i, { mean });
    const y = await model.forward(x);
    F.sum(y.mul(y)).backward();
    await r.value(`y${i}`, y);
    await r.grad(`x${i}`, x);
    await r.link(`model${i}`, model);
  }
  if (new Set(model.taken).size !== 2) throw new Error(`if-else: both branches should run, took ${model.taken.join(', ')}`);
  await r.value('branches', model.taken.map((b) => (b === 'positive' ? 1 : 0)));
}
