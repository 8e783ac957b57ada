// Linear: the fully connected layer y = x W^T + b, with the input size inferred on first call.

import { shapeStr, sizeOf } from '../array/ndarray.js';
import { type Variable, type VariableLike, argVariable } from '../graph/variable.js';
import { linear } from '../ops/matmul.js';
import { BOOLEAN, FUNCTION, checkOptions } from '../ops/options.js';
import { lecunNormal, zero, type Initializer } from './initializers.js';
import { Link, Parameter } from './link.js';

export interface LinearOptions {
  nobias?: boolean;
  initialW?: Initializer;
  initialBias?: Initializer;
}

export class Linear extends Link {
  readonly W: Parameter;
  readonly b: Parameter | null;
  readonly outSize: number;

  /**
   * `new Linear(outSize)` or `new Linear(inSize, outSize)`; `inSize` null (or omitted)
   * defers W's allocation to the first call. W defaults to LeCun-normal, b to zero.
   */
  constructor(inSizeOrOut: number | null, outSize?: number, opts: LinearOptions = {}) {
    super();
    checkOptions('Linear', opts, { nobias: BOOLEAN, initialW: FUNCTION, initialBias: FUNCTION });
    const [inSize, out] = outSize === undefined ? [null, inSizeOrOut] : [inSizeOrOut, outSize];
    if (out === null || !Number.isInteger(out) || out <= 0) throw new Error(`Linear: outSize must be a positive integer, got ${out}`);
    if (inSize !== null && (!Number.isInteger(inSize) || inSize <= 0)) throw new Error(`Linear: inSize must be a positive integer or null, got ${inSize}`);
    this.outSize = out;
    const initW = opts.initialW ?? lecunNormal();
    this.W = inSize === null ? new Parameter(initW) : new Parameter(initW, [out, inSize]);
    this.b = opts.nobias ? null : new Parameter(opts.initialBias ?? zero, [out]);
  }

  forward(x: VariableLike): Variable {
    const v = argVariable(x, 'Linear', 'x');
    if (!this.W.isInitialized) {
      if (v.ndim < 2) throw new Error(`Linear: x must be (batch, features...), got x ${shapeStr(v.shape)}`);
      const inSize = sizeOf(v.shape.slice(1));
      if (inSize === 0) throw new Error(`Linear: cannot infer the input size from x ${shapeStr(v.shape)}: it has no features`);
      try {
        this.W.initialize([this.outSize, inSize]);
      } catch (e) {
        // the initializer's own error would name randomNormal, not the layer being built
        throw new Error(`Linear: initializing W (${this.outSize}, ${inSize}) for x ${shapeStr(v.shape)} failed: ${(e as Error).message}`);
      }
    }
    return this.b === null ? linear(v, this.W) : linear(v, this.W, this.b);
  }
}
