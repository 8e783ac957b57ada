// Variable and FunctionNode: the nodes of the graph that a forward run records.

import { NDArray, shapeStr, type DType } from '../array/ndarray.js';
import { array, full, type NestedArray } from '../array/xp.js';
import { config } from './config.js';

export interface BackwardOptions {
  /** Keep `grad` on intermediate variables too (Chainer's retain_grad). */
  retainGrad?: boolean;
  /** Record the backward pass as a graph, so gradients can be differentiated again. */
  enableDoubleBackprop?: boolean;
}

/** What ops accept wherever a Variable is expected. */
export type VariableLike = Variable | NDArray | number;

/**
 * What the graph knows of a variable (Chainer's VariableNode): the FunctionNode that created
 * it and its gradient slot, but no data. A FunctionNode holds its outputs' nodes, never the
 * output Variables, so dropping a Variable frees its data at once while backward still finds
 * where that output's gradient goes: nothing waits on a weak reference or the event loop.
 */
export class VariableNode {
  creator: FunctionNode | null = null;
  /** The gradient as a Variable (so it can be differentiated again), or null. */
  gradVar: Variable | null = null;
}

/**
 * A value in the graph: `data`, the gradient `grad` after backward, and the `creator`
 * FunctionNode that produced it (null for leaves: parameters and inputs).
 */
export class Variable {
  // accessors over private fields, so that a subclass can stand for a value not computed yet
  // (fuse(fn)'s placeholders) without redefining properties on every instance
  #data: NDArray;
  #node: VariableNode;
  name: string | undefined;
  /** Whether backward computes a gradient for this variable (default: float data). */
  requiresGrad: boolean;

  /** `opts.node` (internal): stand in for a variable the graph knows, e.g. a retained output. */
  constructor(data: NDArray | NestedArray, opts: { name?: string; requiresGrad?: boolean; node?: VariableNode } = {}) {
    const d = data instanceof NDArray ? data : array(data);
    this.#data = d;
    this.name = opts.name;
    // integer arrays (labels, indices) have no gradient
    this.requiresGrad = opts.requiresGrad ?? d.dtype !== 'int32';
    this.#node = opts.node ?? new VariableNode();
  }

  get data(): NDArray { return this.#data; }
  set data(d: NDArray) { this.#data = d; }
  /** This variable's place in the graph (creator, gradient slot). */
  get node(): VariableNode { return this.#node; }

  /** The gradient as a Variable (so it can be differentiated again), or null. */
  get gradVar(): Variable | null { return this.node.gradVar; }
  set gradVar(g: Variable | null) { this.node.gradVar = g; }
  get creator(): FunctionNode | null { return this.node.creator; }
  set creator(f: FunctionNode | null) { this.node.creator = f; }

  get shape(): readonly number[] { return this.data.shape; }
  get dtype(): DType { return this.data.dtype; }
  get ndim(): number { return this.data.ndim; }
  get size(): number { return this.data.size; }
  get generation(): number { return this.creator === null ? 0 : this.creator.generation; }

  /** The gradient's array (null before backward or after cleargrad). */
  get grad(): NDArray | null { return this.gradVar?.data ?? null; }
  set grad(g: NDArray | null) {
    if (g !== null && (g.shape.length !== this.shape.length || g.shape.some((n, i) => n !== this.shape[i]))) {
      throw new Error(`Variable.grad: gradient shape ${shapeStr(g.shape)} does not match data shape ${shapeStr(this.shape)}`);
    }
    if (g !== null && g.dtype !== this.dtype) throw new Error(`Variable.grad: gradient dtype ${g.dtype} does not match data dtype ${this.dtype}`);
    this.gradVar = g === null ? null : new Variable(g, { requiresGrad: false });
  }

  cleargrad(): void { this.gradVar = null; }

  /** Move data and gradient to the GPU, in place (Chainer's to_gpu); returns this. */
  toGpu(): this {
    this.data = this.data.toGpu();
    if (this.gradVar !== null) this.gradVar.data = this.gradVar.data.toGpu();
    return this;
  }

  /** Move data and gradient to the CPU, in place; asynchronous like every GPU read. */
  async toCpu(): Promise<this> {
    this.data = await this.data.toCpu();
    if (this.gradVar !== null) this.gradVar.data = await this.gradVar.data.toCpu();
    return this;
  }

  /** Backprop from this variable through the graph that built it. */
  backward(opts: BackwardOptions = {}): void {
    if (backwardImpl === undefined) throw new Error('backward: the graph module is not loaded');
    backwardImpl(this, opts);
  }

  /** Forget the creator: this variable becomes a leaf of any later graph. */
  unchain(): void { this.creator = null; }

  /**
   * Cut every edge of the graph above this variable (truncated BPTT: after
   * `loss.backward(); loss.unchainBackward()` the hidden state carries no history).
   */
  unchainBackward(): void {
    const stack = this.creator ? [this.creator] : [];
    const seen = new Set(stack);
    while (stack.length > 0) {
      const f = stack.pop()!;
      for (const x of f.inputs) {
        if (x.creator !== null && !seen.has(x.creator)) {
          seen.add(x.creator);
          stack.push(x.creator);
        }
      }
      f.unchain();
    }
  }

  toString(): string {
    return `Variable(${this.name ? `${this.name}, ` : ''}${shapeStr(this.shape)}, ${this.dtype})`;
  }

  /** The single element, synchronously (CPU). */
  itemSync(): number { return this.data.itemSync(); }
  async item(): Promise<number> { return this.data.item(); }
}

let backwardImpl: ((root: Variable, opts: BackwardOptions) => void) | undefined;
/** @internal backward.ts installs itself here, which keeps the import graph acyclic. */
export function registerBackward(fn: (root: Variable, opts: BackwardOptions) => void): void {
  backwardImpl = fn;
}

/**
 * A Variable for `x`; numbers become 0-d arrays of `dtype`; arrays become constant leaves.
 * `where` ('matmul: argument a') starts the error thrown for anything else.
 */
export function asVariable(x: VariableLike, dtype: DType = 'float32', where?: string): Variable {
  if (x instanceof Variable) return x;
  if (x instanceof NDArray) return new Variable(x, { requiresGrad: false });
  if (typeof x === 'number') return new Variable(full([], x, dtype), { requiresGrad: false });
  throw new Error(`${where === undefined ? 'expected' : `${where} must be`} a Variable, NDArray or number, got ${describe(x)}`);
}

/** asVariable for argument `arg` of op `op`: a wrong type is an error naming both. */
export const argVariable = (x: VariableLike, op: string, arg: string): Variable => asVariable(x, 'float32', `${op}: argument ${arg}`);

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'a JS array (wrap it with kusari.array)';
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'object';
  return typeof x;
}

/** How an error names input i of node f. */
const inputText = (f: FunctionNode, i: number): string => `${f.label}'s input ${f.inputs[i].name ?? i} ${shapeStr(f.inputs[i].shape)}`;

/**
 * An operation in the graph. Subclasses implement `forward` on arrays and `backward` with
 * differentiable ops on Variables (so double backward works), and keep only what backward
 * needs: the input Variables, the outputs' nodes (no data), and the data of the outputs
 * they retain (Chainer's retain_outputs). Each instance is applied once.
 */
export abstract class FunctionNode {
  inputs: Variable[] = [];
  /** The outputs' graph nodes: where backward finds their gradients. */
  outputNodes: VariableNode[] = [];
  outputShapes: (readonly number[])[] = [];
  outputDtypes: DType[] = [];
  generation = 0;
  private retainIndexes: readonly number[] = [];
  private retained: NDArray[] | null = null;
  // The arrays forward saw and their versions then: backward refuses data written in place
  // since (PyTorch's saved-tensor check), instead of silently differentiating new values.
  private inputArrays: NDArray[] = [];
  private inputVersions: number[] = [];
  private retainedVersions: number[] = [];
  private applied = false;

  /** The op's name, for errors and graph drawings. */
  abstract readonly label: string;

  /** Check input shapes/dtypes; throw an error naming the op, argument and shapes. */
  checkInputs(_xs: readonly NDArray[]): void {}

  abstract forward(xs: readonly NDArray[]): NDArray[];

  /** Gradients of the inputs listed in `targets`, given gradients of all outputs. */
  abstract backward(targets: readonly number[], gys: readonly Variable[]): (Variable | null)[];

  /** Ask apply() to keep these outputs' data for backward (call from forward). */
  protected retainOutputs(indexes: readonly number[]): void { this.retainIndexes = indexes; }

  /** The retained outputs as Variables on their graph nodes, so double backward reaches this node. */
  protected get retainedOutputs(): Variable[] {
    if (this.retained === null) throw new Error(`${this.label}: backward used outputs that forward did not retain`);
    return this.retained.map((y, j) => new Variable(y, { requiresGrad: true, node: this.outputNodes[this.retainIndexes[j]] }));
  }

  /** @internal The output data kept for backward (memory accounting walks it). */
  get retainedArrays(): readonly NDArray[] { return this.retained ?? []; }

  /**
   * The inputs whose values backward reads to compute the gradients of `targets` (all, unless
   * an op knows better: add's backward reads none). Only these are checked for in-place writes.
   */
  protected inputsReadByBackward(_targets: readonly number[]): readonly number[] { return this.inputs.map((_, i) => i); }

  /** Run forward on `inputs` and, when backprop is enabled, record this node in the graph. */
  apply(inputs: readonly VariableLike[]): Variable[] {
    if (this.applied) throw new Error(`${this.label}: this FunctionNode was already applied; create a new one for each call`);
    const first = inputs.find((x): x is Variable | NDArray => typeof x !== 'number');
    const dtype = first === undefined || first.dtype === 'int32' ? 'float32' : first.dtype;
    const device = first === undefined ? 'cpu' : first instanceof Variable ? first.data.device : first.device;
    // numbers become 0-d arrays beside the other inputs, on their device
    const xs = inputs.map((x) => (typeof x === 'number' ? new Variable(full([], x, dtype, device), { requiresGrad: false }) : asVariable(x)));
    const arrays = xs.map((x) => x.data);
    this.checkInputs(arrays);
    const ys = this.forward(arrays);
    this.applied = true;
    const record = config.enableBackprop && xs.some((x) => x.requiresGrad);
    const outs = ys.map((y) => new Variable(y, { requiresGrad: record }));
    if (record) {
      this.inputs = xs;
      let generation = 0;
      for (const x of xs) generation = Math.max(generation, x.generation);
      this.generation = generation + 1;
      this.outputNodes = outs.map((y) => y.node);
      this.outputShapes = ys.map((y) => y.shape);
      this.outputDtypes = ys.map((y) => y.dtype);
      this.retained = this.retainIndexes.map((i) => ys[i]);
      this.inputArrays = arrays;
      this.inputVersions = arrays.map((x) => x.version);
      this.retainedVersions = this.retained.map((y) => y.version);
      for (const y of outs) y.creator = this;
    }
    return outs;
  }

  /**
   * @internal Called by backward before `backward(targets, ...)`: throw, naming the op and the
   * array, if data that backward reads was written in place (or replaced) since forward.
   */
  checkRetained(targets: readonly number[]): void {
    const hint = 'after forward retained it; call backward before optimizer.update (or any in-place write)';
    // the message is built only when it is thrown (inputText): this runs for every node of every backward
    for (const i of this.inputsReadByBackward(targets)) {
      const x = this.inputs[i];
      if (x.data !== this.inputArrays[i]) throw new Error(`backward: ${inputText(this, i)} was replaced by another array ${hint}`);
      const then = this.inputVersions[i], now = x.data.version;
      if (now !== then) throw new Error(`backward: ${inputText(this, i)} was modified in place (version ${then} -> ${now}) ${hint}`);
    }
    this.retained?.forEach((y, j) => {
      const [then, now] = [this.retainedVersions[j], y.version];
      if (now !== then) {
        throw new Error(`backward: ${this.label}'s output ${this.retainIndexes[j]} ${shapeStr(y.shape)} was modified in place (version ${then} -> ${now}) ${hint}`);
      }
    });
  }

  /** Drop every reference into the graph (unchainBackward). */
  unchain(): void {
    for (const y of this.outputNodes) if (y.creator === this) y.creator = null;
    this.inputs = [];
    this.outputNodes = [];
    this.retained = null;
    this.inputArrays = [];
  }
}
