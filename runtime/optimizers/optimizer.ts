// Optimizer base: holds a link's parameters and updates them in place from their gradients.

import { input, scalar, type Expr } from '../../compiler/expr.js';
import type { NDArray } from '../array/ndarray.js';
import { pin } from '../array/pin.js';
import { stepScope } from '../devices.js';
import { elementwise, reduce, zerosLike } from '../array/xp.js';
import { Variable, describe } from '../graph/variable.js';
import type { Link, Parameter } from '../links/link.js';
import type { Serializer } from '../serializers/serializer.js';

/** Something run on every gradient before the update (weight decay, clipping). */
export interface OptimizerHook {
  readonly name: string;
  apply(opt: Optimizer): void;
}

/**
 * Write `roots` (over input(k) = inputs[k], scalar(i) = scalars[i]) into `outs` in place.
 * Every value is read before any is written at each position, so an output may be an input.
 */
export function updateInPlace(roots: readonly Expr[], inputs: readonly NDArray[], scalars: readonly number[], outs: readonly NDArray[]): void {
  elementwise(roots, inputs, scalars, { outs, dtype: outs[0].dtype, op: 'optimizer update' });
}

export abstract class Optimizer {
  target: Link | null = null;
  /** Number of updates done. */
  t = 0;
  /** Epochs done, counted by newEpoch() (Chainer's optimizer.epoch; saved in snapshots). */
  epoch = 0;
  /** The names of the per-parameter state arrays that updates create ('m', 'v'); loads create them too. */
  protected readonly stateNames: readonly string[] = [];
  private hooks: OptimizerHook[] = [];
  private states = new Map<Parameter, Record<string, NDArray>>();

  /** Attach to a model; returns this for chaining. */
  setup(link: Link): this {
    this.target = link;
    this.states.clear();
    this.t = 0;
    this.epoch = 0;
    return this;
  }

  /** Count a finished epoch (Chainer's new_epoch; the updater calls it). */
  newEpoch(): void { this.epoch += 1; }

  /**
   * Save or load the optimizer's state in Chainer's layout: `t`, `epoch`, and per parameter
   * path its update rule's `t` and state arrays (`l1/W/t`, `l1/W/m`, `l1/W/v`).
   * Hyperparameters are not saved, as in Chainer: the code that builds the optimizer sets them.
   * Parameters are not saved either: serialize the link too.
   */
  serialize(serializer: Serializer): void {
    if (this.target === null) throw new Error('Optimizer.serialize: call setup(model) first');
    serializer.number('t', this.t, (x) => { this.t = x; });
    serializer.number('epoch', this.epoch, (x) => { this.epoch = x; });
    for (const [path, p] of this.target.namedParams()) {
      const s = serializer.child(path);
      // kusari updates every parameter that has a gradient on every step, so a rule's count is the optimizer's
      s.number('t', this.t, () => {});
      const state = this.states.get(p);
      if (!serializer.loading) {
        // a parameter not updated yet saves the zeros its state would start from, so the file
        // has the same keys whichever parameters have had a gradient
        if (state !== undefined) for (const [k, v] of Object.entries(state)) s.array(k, v, () => {});
        else if (p.isInitialized) for (const k of this.stateNames) s.array(k, zerosLike(p.data), () => {});
        continue;
      }
      // loading: state that does not exist yet is created from the file (Chainer's init_state),
      // checked against the parameter's shape when the parameter has one
      const names = state !== undefined ? Object.keys(state) : this.stateNames;
      const loaded: Record<string, NDArray> = {};
      for (const k of names) {
        s.array(k, state?.[k] ?? (p.isInitialized ? p.data : null), (x) => {
          loaded[k] = pin(x.to(p.device));
          // set once every array of this parameter has arrived (strict: false may skip some)
          if (Object.keys(loaded).length === names.length) this.states.set(p, loaded);
        });
      }
    }
  }

  addHook(hook: OptimizerHook): this {
    this.hooks.push(hook);
    return this;
  }

  /** Per-parameter state arrays (moments), created on first use. */
  protected state(p: Parameter, names: readonly string[]): Record<string, NDArray> {
    let s = this.states.get(p);
    if (s === undefined) {
      s = Object.fromEntries(names.map((n) => [n, pin(zerosLike(p.data))]));
      this.states.set(p, s);
    }
    // state loaded while the parameter was on the CPU follows it to the GPU
    for (const [k, v] of Object.entries(s)) if (v.device === 'cpu' && p.data.device !== 'cpu') s[k] = pin(v.to(p.data.device));
    return s;
  }

  /** Every parameter of the target that has a gradient. */
  *paramsWithGrad(): Generator<Parameter> {
    if (this.target === null) throw new Error('Optimizer: call setup(model) before update()');
    for (const p of this.target.paramList()) if (p.grad !== null) yield p;
  }

  /**
   * One step. With a loss function: clear gradients, compute `lossFn(...args)`, backprop,
   * then update (Chainer's `optimizer.update(lossfun, *args)`). Without: update from the
   * gradients already present.
   *
   * With a loss function on a GPU, the step gives back the memory of every array it created
   * as it returns, except the loss, what the model holds (parameters, their gradients, other
   * fields) and the gradients of the loss graph's other leaves (an input Variable that
   * requires a gradient, whose gradient accumulates over consecutive steps that use it); and
   * the previous step's gradients once this step replaced or no longer used them: a loop stays
   * flat without any await. On every device, a step clears the gradient of an input that the
   * step before used and this one does not (so x, y, x starts x's gradient afresh). Keep an array from inside lossFn by returning it as the loss or
   * storing it on the model; copy a gradient you want past the next update.
   */
  update<A extends unknown[]>(lossFn?: (...args: A) => Variable, ...args: A): void {
    if (this.target === null) throw new Error('Optimizer: call setup(model) before update()');
    const name = this.constructor.name;
    // checked every step: settings are public fields a schedule may change between steps
    this.checkSettings();
    if (lossFn !== undefined) {
      if (typeof lossFn !== 'function') throw new Error(`${name}.update: lossFn must be a function returning the loss Variable, got ${describe(lossFn)}`);
      const target = this.target;
      // The step owns what it creates: on a GPU its temporaries (and the last step's
      // gradients, which cleargrads dropped) go back at once, so no loop needs an await.
      stepScope(this, () => {
        target.cleargrads();
        const loss: unknown = lossFn(...args);
        if (!(loss instanceof Variable)) {
          const seen = loss instanceof Promise ? 'a Promise (update is synchronous: compute the loss without await)' : loss === undefined ? 'undefined (did it forget to return the loss?)' : describe(loss);
          throw new Error(`${name}.update: lossFn returned ${seen}; expected the loss as a Variable`);
        }
        loss.backward();
        this.applyUpdate();
        return loss;
      }, () => [...target.namedLinks()].map(([, link]) => Object.values(link)));
      return;
    }
    this.applyUpdate();
  }

  private applyUpdate(): void {
    this.t += 1;
    for (const h of this.hooks) h.apply(this);
    this.updateAll([...this.paramsWithGrad()]);
  }

  /** Update every parameter that has a gradient: one updateOne each, unless a rule can do them together. */
  protected updateAll(params: readonly Parameter[]): void {
    for (const p of params) this.updateOne(p, p.grad!);
  }

  protected abstract updateOne(p: Parameter, g: NDArray): void;

  /** Throw naming the optimizer and the setting when a hyperparameter is out of range. */
  protected checkSettings(): void {}
}

/** `Adam: alpha must be a finite number > 0, got NaN` unless `ok`. */
export function checkSetting(owner: string, name: string, value: unknown, ok: (v: number) => boolean, expected: string): void {
  if (typeof value !== 'number' || !ok(value)) throw new Error(`${owner}: ${name} must be ${expected}, got ${String(value)}`);
}
export const POSITIVE = [(v: number) => Number.isFinite(v) && v > 0, 'a finite number > 0'] as const;
export const NON_NEGATIVE = [(v: number) => Number.isFinite(v) && v >= 0, 'a finite number >= 0'] as const;
const THRESHOLD = [(v: number) => v > 0, 'a number > 0'] as const;
export const UNIT = [(v: number) => v >= 0 && v < 1, 'in [0, 1)'] as const;

/**
 * A hook's new gradient as a fresh array. Not written in place: a gradient may be a view
 * with zero strides (the gradient of a sum) or the very array another parameter holds
 * (both inputs of an add), and writing through either corrupts it.
 */
function hookResult(roots: readonly Expr[], inputs: readonly NDArray[], scalars: readonly number[], op: string): NDArray {
  return elementwise(roots, inputs, scalars, { dtype: inputs[0].dtype, op })[0];
}

/** g += rate * W for every parameter (L2 regularisation). */
export class WeightDecay implements OptimizerHook {
  readonly name = 'WeightDecay';
  constructor(readonly rate: number) { checkSetting('WeightDecay', 'rate', rate, ...NON_NEGATIVE); }
  apply(opt: Optimizer): void {
    checkSetting('WeightDecay', 'rate', this.rate, ...NON_NEGATIVE);
    for (const p of opt.paramsWithGrad()) {
      p.grad = hookResult([input(0).add(scalar(0).mul(input(1)))], [p.grad!, p.data], [this.rate], 'WeightDecay');
    }
  }
}

/** Rescale all gradients together so that their L2 norm is at most `threshold`. */
export class GradientClipping implements OptimizerHook {
  readonly name = 'GradientClipping';
  // Infinity is allowed: it clips nothing; zero or less would flip or erase every gradient
  constructor(readonly threshold: number) { checkSetting('GradientClipping', 'threshold', threshold, ...THRESHOLD); }
  apply(opt: Optimizer): void {
    checkSetting('GradientClipping', 'threshold', this.threshold, ...THRESHOLD);
    // The norm stays on the gradients' device: scale = min(1, threshold / norm) as a 0-d
    // array, so clipping on a GPU needs no read back.
    const squares = [...opt.paramsWithGrad()].map((p) => reduce('sum', p.grad!, undefined, false, input(0).mul(input(0))));
    if (squares.length === 0) return;
    const total = squares.reduce((a, b) => elementwise([input(0).add(input(1))], [a, b])[0]);
    const [scale] = elementwise([scalar(0).div(input(0).sqrt()).min(1)], [total], [this.threshold]);
    for (const p of opt.paramsWithGrad()) p.grad = hookResult([input(0).mul(input(1))], [p.grad!, scale], [], 'GradientClipping');
  }
}
