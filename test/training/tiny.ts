// A tiny classification problem and model for the Trainer tests: 4 features, 3 classes.

import { F, L, NDArray, RandomState, type Variable } from '../../runtime/index.js';
import { TupleDataset, report } from '../../runtime/training/index.js';

/** n examples whose label is the argmax of a fixed linear map of x, so a linear model can learn it. */
export function tinyDataset(n: number, seed = 1): TupleDataset<[NDArray, NDArray]> {
  const rng = new RandomState(seed);
  const x = new Float32Array(n * 4), t = new Int32Array(n);
  const w = [[1, -1, 0.5, 0], [-0.5, 1, 1, -1], [0, 0.5, -1, 1]];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 4; j++) x[i * 4 + j] = rng.normal();
    const scores = w.map((row) => row.reduce((s, wj, j) => s + wj * x[i * 4 + j], 0));
    t[i] = scores.indexOf(Math.max(...scores));
  }
  return new TupleDataset(new NDArray(x, [n, 4]), new NDArray(t, [n]));
}

/** Chainer's Classifier over a small MLP; dropout draws from the global random stream. */
export class TinyClassifier extends L.Chain {
  l1 = new L.Linear(4, 8);
  l2 = new L.Linear(8, 3);
  constructor(readonly dropout = 0) { super(); }

  predict(x: NDArray | Variable): Variable {
    return this.l2.forward(F.dropout(F.relu(this.l1.forward(x)), this.dropout));
  }

  forward(x: NDArray, t: NDArray): Variable {
    const y = this.predict(x);
    const loss = F.softmaxCrossEntropy(y, t);
    report({ loss, accuracy: F.accuracy(y, t) }, this);
    return loss;
  }
}
