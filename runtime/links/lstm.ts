// LSTM: the stateful fully connected LSTM layer (upward and lateral Linear links around F.lstm).

import { shapeStr } from '../array/ndarray.js';
import { array, zeros } from '../array/xp.js';
import { Variable, argVariable, type VariableLike } from '../graph/variable.js';
import { add } from '../ops/arithmetic.js';
import { concat, splitAxis } from '../ops/indexing.js';
import { lstm } from '../ops/lstm.js';
import { type Initializer } from './initializers.js';
import { Chain } from './link.js';
import { Linear } from './linear.js';

export interface LSTMOptions {
  /** Initializer of both weight matrices (default LeCun normal, as Linear's). */
  initialW?: Initializer;
  /** Bias of the input and the i and o gates (default 0). */
  biasInit?: number;
  /** Bias of the forget gate (default 1, Chainer's: remember by default early in training). */
  forgetBiasInit?: number;
}

/**
 * A stateful LSTM (Chainer's L.LSTM): each call feeds one time step and keeps c and h for
 * the next; `resetState()` starts a new sequence. h from the last step enters through
 * `lateral` (no bias); a batch smaller than the last one continues the first rows only.
 *
 * ```ts
 * const rnn = new L.LSTM(100, 200);
 * rnn.resetState();
 * for (const x of steps) y = rnn.forward(x);
 * ```
 */
export class LSTM extends Chain {
  readonly upward: Linear;
  readonly lateral: Linear;
  readonly stateSize: number;
  c: Variable | null = null;
  h: Variable | null = null;

  /** `new LSTM(inSize, outSize)`, or `new LSTM(outSize)` / inSize null to infer it on the first call. */
  constructor(inSizeOrOut: number | null, outSize?: number, opts: LSTMOptions = {}) {
    super();
    const [inSize, out] = outSize === undefined ? [null, inSizeOrOut] : [inSizeOrOut, outSize];
    if (out === null || !Number.isInteger(out) || out <= 0) throw new Error(`LSTM: outSize must be a positive integer, got ${out}`);
    this.stateSize = out;
    const { biasInit = 0, forgetBiasInit = 1 } = opts;
    // gates interleaved per unit (a, i, f, o), as F.lstm reads them: the forget bias is every 4th from 2
    const bias: Initializer = (shape, dtype) =>
      array(Array.from({ length: shape[0] }, (_, k) => (k % 4 === 2 ? forgetBiasInit : biasInit)), shape, dtype);
    this.upward = new Linear(inSize, 4 * out, { initialW: opts.initialW, initialBias: bias });
    this.lateral = new Linear(out, 4 * out, { initialW: opts.initialW, nobias: true });
  }

  /** Forget c and h: the next call starts a new sequence. */
  resetState(): void {
    this.c = this.h = null;
  }

  /** One time step: x (B, inSize) -> h (B, outSize). */
  forward(x: VariableLike): Variable {
    const v = argVariable(x, 'LSTM', 'x');
    if (v.ndim !== 2) throw new Error(`LSTM: x must be (batch, inSize), got x ${shapeStr(v.shape)}`);
    const batch = v.shape[0];
    let lstmIn = this.upward.forward(v);
    let hRest: Variable | null = null;
    if (this.h !== null) {
      const hb = this.h.shape[0];
      if (batch > hb) throw new Error(`LSTM: x has batch ${batch}, more than the ${hb} rows of the state; call resetState() first`);
      let hUpdate = this.h;
      if (batch < hb) [hUpdate, hRest] = splitAxis(this.h, [batch], 0);
      lstmIn = add(lstmIn, this.lateral.forward(hUpdate));
    }
    if (this.c === null) this.c = new Variable(zeros([batch, this.stateSize], v.dtype, v.data.device), { requiresGrad: false });
    const [c, y] = lstm(this.c, lstmIn);
    this.c = c;
    this.h = hRest === null ? y : concat([y, hRest], 0);
    return y;
  }

  override toGpu(): this {
    super.toGpu();
    this.c?.toGpu();
    this.h?.toGpu();
    return this;
  }

  override async toCpu(): Promise<this> {
    await super.toCpu();
    await this.c?.toCpu();
    await this.h?.toCpu();
    return this;
  }
}
