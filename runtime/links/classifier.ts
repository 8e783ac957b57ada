// Classifier: wraps a predictor with a loss (softmax cross entropy) and an accuracy, as Chainer's L.Classifier.

import { type Variable, type VariableLike } from '../graph/variable.js';
import { accuracy } from '../ops/evaluation.js';
import { softmaxCrossEntropy } from '../ops/loss.js';
import { Chain, Link } from './link.js';

/** A link that maps inputs to a prediction. */
export type Predictor = Link & { forward(...xs: VariableLike[]): Variable };

export interface ClassifierOptions {
  lossfun?: (y: Variable, t: VariableLike) => Variable;
  accfun?: (y: Variable, t: VariableLike) => Variable;
}

/**
 * `forward(...xs, t)` runs the predictor on xs and returns lossfun(y, t); it keeps `y`,
 * `loss` and `accuracy` (when `computeAccuracy`) as fields, as Chainer's Classifier does
 * (this branch has no reporter, so the fields are where a training loop reads them).
 *
 * ```ts
 * const model = new L.Classifier(new MLP());
 * optimizer.update((x, t) => model.forward(x, t), x, t);
 * console.log(await model.accuracy!.item());
 * ```
 */
export class Classifier<P extends Predictor = Predictor> extends Chain {
  readonly predictor: P;
  lossfun: (y: Variable, t: VariableLike) => Variable;
  accfun: (y: Variable, t: VariableLike) => Variable;
  computeAccuracy = true;
  y: Variable | null = null;
  loss: Variable | null = null;
  accuracy: Variable | null = null;

  constructor(predictor: P, opts: ClassifierOptions = {}) {
    super();
    this.predictor = predictor;
    this.lossfun = opts.lossfun ?? ((y, t) => softmaxCrossEntropy(y, t));
    this.accfun = opts.accfun ?? ((y, t) => accuracy(y, t));
  }

  forward(...args: VariableLike[]): Variable {
    if (args.length < 2) throw new Error(`Classifier: forward needs the inputs and then the labels t, got ${args.length} argument(s)`);
    const t = args[args.length - 1];
    this.y = this.predictor.forward(...args.slice(0, -1));
    this.loss = this.lossfun(this.y, t);
    this.accuracy = this.computeAccuracy ? this.accfun(this.y, t) : null;
    return this.loss;
  }
}
