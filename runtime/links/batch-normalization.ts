// BatchNormalization: gamma, beta and running statistics; batch statistics in training, the running ones in test mode.

import { NDArray, type DType } from '../array/ndarray.js';
import { pin } from '../array/pin.js';
import { full } from '../array/xp.js';
import { config } from '../graph/config.js';
import { type Variable, type VariableLike } from '../graph/variable.js';
import { batchNormalization, fixedBatchNormalization } from '../ops/normalization.js';
import { one, zero, type Initializer } from './initializers.js';
import { Link, Parameter } from './link.js';

export interface BatchNormalizationOptions {
  /** Weight of the old running statistics at each update (default 0.9). */
  decay?: number;
  /** Added to the variance (default 2e-5). */
  eps?: number;
  dtype?: DType;
  /** Learn a scale gamma (default true) and a shift beta (default true). */
  useGamma?: boolean;
  useBeta?: boolean;
  initialGamma?: Initializer;
  initialBeta?: Initializer;
  /** The normalized axes; default 0 and every axis after the channel ones (see F.batchNormalization). */
  axis?: number | readonly number[];
}

/**
 * Batch normalization as a link (Chainer's L.BatchNormalization). While `config.train` is
 * true it normalizes with the batch statistics and folds them into `avgMean` and `avgVar`
 * (persistents: serializers save them and toGpu() moves them); in test mode it uses those.
 *
 * ```ts
 * const bn = new L.BatchNormalization(64);     // for (N, 64, H, W) or (N, 64)
 * const y = bn.forward(x);                     // testMode(() => bn.forward(x)) uses avgMean/avgVar
 * ```
 */
export class BatchNormalization extends Link {
  readonly gamma: Parameter | null;
  readonly beta: Parameter | null;
  declare avgMean: NDArray;
  declare avgVar: NDArray;
  /** Batches seen in training. */
  declare N: number;
  readonly decay: number;
  readonly eps: number;
  readonly size: readonly number[];
  private readonly axis: number | readonly number[] | undefined;

  constructor(size: number | readonly number[], opts: BatchNormalizationOptions = {}) {
    super();
    const shape = typeof size === 'number' ? [size] : size.slice();
    if (shape.length === 0 || shape.some((n) => !Number.isInteger(n) || n <= 0)) {
      throw new Error(`BatchNormalization: size must be a positive integer or a list of them, got ${JSON.stringify(size)}`);
    }
    const { decay = 0.9, eps = 2e-5, dtype = 'float32', useGamma = true, useBeta = true } = opts;
    if (!(decay >= 0 && decay <= 1)) throw new Error(`BatchNormalization: decay must be in [0, 1], got ${decay}`);
    if (!(eps > 0) || !Number.isFinite(eps)) throw new Error(`BatchNormalization: eps must be a positive finite number, got ${eps}`);
    this.size = shape;
    this.decay = decay;
    this.eps = eps;
    this.axis = opts.axis;
    this.gamma = useGamma ? new Parameter(opts.initialGamma ?? one, shape, { dtype }) : null;
    this.beta = useBeta ? new Parameter(opts.initialBeta ?? zero, shape, { dtype }) : null;
    this.addPersistent('avgMean', pin(full(shape, 0, dtype)));
    this.addPersistent('avgVar', pin(full(shape, 1, dtype)));
    this.addPersistent('N', 0);
  }

  forward(x: VariableLike): Variable {
    const device = this.avgMean.device;
    const gamma = this.gamma ?? full(this.size, 1, this.avgMean.dtype, device);
    const beta = this.beta ?? full(this.size, 0, this.avgMean.dtype, device);
    if (config.train) {
      this.N += 1;
      return batchNormalization(x, gamma, beta, { eps: this.eps, runningMean: this.avgMean, runningVar: this.avgVar, decay: this.decay, axis: this.axis });
    }
    return fixedBatchNormalization(x, gamma, beta, this.avgMean, this.avgVar, { eps: this.eps, axis: this.axis });
  }

  override toGpu(): this {
    super.toGpu();
    // long-lived state like a parameter: an early-freeing scope() must not give it back
    pin(this.avgMean);
    pin(this.avgVar);
    return this;
  }
}
