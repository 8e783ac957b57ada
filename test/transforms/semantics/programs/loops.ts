// Semantics program: a for loop with a chain in its body, and a while loop whose condition reads data.

import { F, L, seed, type Variable } from 'kusari';
import { normal, type Recorder } from '../outcome.js';

/** A recurrent refinement: `steps` fixed iterations, then a data-dependent contraction. */
export class Refine extends L.Chain {
  readonly w = new L.Linear(5, 5);
  iterations = 0;

  constructor(readonly steps: number) { super(); }

  async forward(x: Variable): Promise<Variable> {
    let h = this.w.forward(x);
    for (let k = 0; k < this.steps; k++) {
      h = F.tanh(h.mul(0.8).add(x)).add(h.mul(0.5));
    }
    let n = 0;
    while ((await F.max(F.abs(h)).data.item()) > 0.2 && n < 12) {
      h = h.mul(0.5).sub(F.tanh(h).mul(0.125));
      n++;
    }
    this.iterations = n;
    return h.mul(h).add(1).log();
  }
}

export async function run(r: Recorder): Promise<void> {
  seed(5);
  const model = new Refine(3);
  if (r.device === 'webgpu') model.toGpu();
  const x = normal(r, [3, 5], 7, { scale: 2 });
  const y = await model.forward(x);
  if (model.iterations < 2) throw new Error(`loops: the while loop should run at least twice, ran ${model.iterations}`);
  F.sum(y).backward();
  await r.value('y', y);
  await r.value('iterations', model.iterations);
  await r.grad('x', x);
  await r.link('model', model);
}
