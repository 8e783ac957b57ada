// Semantics program: a train/test switch (config.train picks dropout and a different head), chains on both sides of it.

import { F, L, config, seed, testMode, type Variable } from 'kusari';
import { normal, type Recorder } from '../outcome.js';

export class Net extends L.Chain {
  readonly l1 = new L.Linear(8, 8);
  readonly l2 = new L.Linear(8, 3);

  forward(x: Variable): Variable {
    let h = F.tanh(this.l1.forward(x).mul(0.7)).mul(F.sigmoid(x.add(0.1)));
    if (config.train) {
      h = F.dropout(h, 0.25).add(h.mul(0.1));
    } else {
      h = h.mul(1.1);
    }
    const y = this.l2.forward(h);
    return config.train ? y.mul(y).add(1).log() : F.sigmoid(y).mul(2).sub(1);
  }
}

export async function run(r: Recorder): Promise<void> {
  seed(23);
  const net = new Net();
  if (r.device === 'webgpu') net.toGpu();
  const x = normal(r, [5, 8], 61);
  // the dropout mask comes from the global stream: same seed, same mask in both runs
  seed(99);
  const yTrain = net.forward(x);
  F.sum(yTrain).backward();
  await r.value('train y', yTrain);
  await r.grad('train x', x);
  await r.link('train net', net);
  net.cleargrads();
  x.cleargrad();
  const yTest = testMode(() => net.forward(x));
  F.sum(yTest).backward();
  await r.value('test y', yTest);
  await r.grad('test x', x);
  await r.link('test net', net);
}
