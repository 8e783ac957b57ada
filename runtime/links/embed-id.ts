// EmbedID: a learnable table of word vectors, looked up by integer id.

import { type Variable, type VariableLike } from '../graph/variable.js';
import { embedId } from '../ops/embed-id.js';
import { normal, type Initializer } from './initializers.js';
import { Link, Parameter } from './link.js';

export interface EmbedIDOptions {
  /** Default N(0, 1), Chainer's. */
  initialW?: Initializer;
  /** Ids equal to this map to a zero vector (Chainer's ignore_label). */
  ignoreLabel?: number;
}

/** y = W[x] with W (inSize, outSize): `new L.EmbedID(vocabSize, units)`. */
export class EmbedID extends Link {
  readonly W: Parameter;
  readonly ignoreLabel: number | undefined;

  constructor(inSize: number, outSize: number, opts: EmbedIDOptions = {}) {
    super();
    for (const [name, v] of [['inSize', inSize], ['outSize', outSize]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`EmbedID: ${name} must be a positive integer, got ${v}`);
    }
    this.W = new Parameter(opts.initialW ?? normal(1), [inSize, outSize]);
    this.ignoreLabel = opts.ignoreLabel;
  }

  forward(x: VariableLike): Variable {
    return embedId(x, this.W, { ignoreLabel: this.ignoreLabel });
  }
}
