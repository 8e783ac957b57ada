// Chainer's classic control flow in forward: one function that trains or evaluates depending on an argument.

import { F, L, usingConfig, type Variable, type VariableLike } from 'kusari';

/** 784-100-10 with batch normalization and dropout on the hidden layer. */
export class Net extends L.Chain {
  l1 = new L.Linear(784, 100);
  bn1 = new L.BatchNormalization(100);
  l2 = new L.Linear(100, 10);
}

export interface Evaluation {
  accuracy: Variable;
  /** softmax of the scores: class probabilities per sample */
  prob: Variable;
}

/**
 * Chainer's `forward(x, t, train)`: with `train` the loss to backprop; without it the
 * accuracy and the softmax probabilities. `config.train` follows `train`, so dropout drops
 * and batch normalization uses (and updates) batch statistics only when training; in test
 * mode dropout is the identity and builds no node, and batch normalization uses the
 * running averages. The branch is plain `if`: the graph is whatever this run executes.
 */
export function forward(model: Net, x: VariableLike, t: VariableLike, train: true): Variable;
export function forward(model: Net, x: VariableLike, t: VariableLike, train: false): Evaluation;
export function forward(model: Net, x: VariableLike, t: VariableLike, train: boolean): Variable | Evaluation {
  return usingConfig({ train }, () => {
    const h = F.dropout(F.relu(model.bn1.forward(model.l1.forward(x))), 0.5);
    const y = model.l2.forward(h);
    if (train) return F.softmaxCrossEntropy(y, t);
    return { accuracy: F.accuracy(y, t), prob: F.softmax(y) };
  });
}
