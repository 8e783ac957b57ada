// ReductionKernel: map, reduce and post-map expressions as text, mapped onto the backends' reductions.

import { Expr, input, scalar } from '../../compiler/expr.js';
import type { ReduceOp } from '../../compiler/js.js';
import { backendOf, deviceOf } from '../array/backend.js';
import { NDArray, broadcastShapes } from '../array/ndarray.js';
import { Variable, asVariable } from '../graph/variable.js';
import { max, min } from '../ops/reduction.js';
import { normAxes, reshape, sum } from '../ops/shape.js';
import { lower, parseExpression, parseStatements, sourceError, type Node, type SourceInfo, type Statement } from './expression.js';
import { applyKernel, runKernel } from './kernel-function.js';
import { bindArgs, checkOutputTypes, parseParams, typeOf, type KernelArg, type Param } from './params.js';

/** Which axes to reduce (all when omitted) and whether they stay as size 1. */
export interface ReduceOptions {
  axis?: number | readonly number[];
  keepdims?: boolean;
}

const NEUTRAL: { [O in ReduceOp]: number } = { sum: 0, max: -Infinity, min: Infinity };
const COMBINE: { [O in ReduceOp]: (a: Expr, b: Expr | number) => Expr } = {
  sum: (a, b) => a.add(b),
  max: (a, b) => a.max(b),
  min: (a, b) => a.min(b),
};

const A = input(0), B = input(1);

/** The backend reduction a reduce expression over a and b is, or null. */
function reduceOpOf(e: Expr): ReduceOp | null {
  const ab = (x: Expr, y: Expr) => (x === A && y === B) || (x === B && y === A);
  if ((e.op === 'add' || e.op === 'max' || e.op === 'min') && ab(e.args[0], e.args[1])) return e.op === 'add' ? 'sum' : e.op;
  if (e.op === 'select') {
    // `a > b ? a : b` and its mirror images
    const [c, x, y] = e.args;
    if (!ab(x, y) || c.args.length !== 2) return null;
    const straight = c.args[0] === x && c.args[1] === y, swapped = c.args[0] === y && c.args[1] === x;
    const greater = c.op === 'gt' || c.op === 'ge', less = c.op === 'lt' || c.op === 'le';
    if ((straight && greater) || (swapped && less)) return 'max';
    if ((straight && less) || (swapped && greater)) return 'min';
  }
  return null;
}

/**
 * A reduction written as text, after CuPy's `ReductionKernel`:
 *
 * ```ts
 * const l2norm = new ReductionKernel('T x', 'T y', 'x * x', 'a + b', 'y = sqrt(a)', '0', 'l2norm');
 * const n = l2norm.call(x, { axis: 1 });            // NDArray in, NDArray out
 * const m = l2norm.call(xv, { keepdims: true });     // a Variable in: differentiable
 * ```
 *
 * `mapExpr` is evaluated per element over the inputs (broadcast together; numbers are
 * runtime scalars), the results are combined by `reduceExpr` over `a` and `b`, which must
 * be a sum (`a + b`), a max (`max(a, b)`, `a > b ? a : b`) or a min, as those are what the
 * backends reduce with; then `postMapExpr` (`y = f(a)`, or just `f(a)`; empty for none)
 * turns the reduced value `a` into the output, and may read number arguments too.
 * `identity` starts the fold, as in CuPy: the op's own (0, -inf, inf) changes nothing, any
 * other value v is folded in exactly, as a + v, max(a, v) or min(a, v) before the post-map.
 * Without one, a max or min over no elements is an error.
 */
export class ReductionKernel {
  readonly inParams: readonly Param[];
  readonly outParams: readonly Param[];
  readonly op: ReduceOp;
  /** null when none was given */
  readonly identity: number | null;
  private readonly label: string;
  private readonly mapSrc: SourceInfo;
  private readonly map: Node;
  private readonly postSrc: SourceInfo;
  private readonly post: readonly Statement[] | null;
  /** the map and post-map expressions for each pattern of array and number arguments */
  private readonly maps = new Map<string, Expr>();
  private readonly posts = new Map<string, Expr>();

  constructor(
    inParams: string, outParams: string, readonly mapExpr: string, readonly reduceExpr: string,
    readonly postMapExpr = '', identity: string | number | null = null, readonly name = 'reduce',
  ) {
    const label = (this.label = `ReductionKernel ${name}`);
    this.inParams = parseParams(label, 'inParams', inParams);
    this.outParams = parseParams(label, 'outParams', outParams);
    if (this.outParams.length !== 1) throw new Error(`${label}: a reduction has one output, got ${this.outParams.length} in ${JSON.stringify(outParams)}`);
    for (const p of [...this.inParams, ...this.outParams]) {
      if (p.name === 'a' || p.name === 'b') throw new Error(`${label}: parameter name '${p.name}' is reserved for the reduce expression's operands a and b`);
    }
    checkOutputTypes(label, this.inParams, this.outParams);

    this.mapSrc = { kernel: label, text: mapExpr, part: 'map' };
    this.map = parseExpression(this.mapSrc);

    const reduceSrc = { kernel: label, text: reduceExpr, part: 'reduce' };
    const reduce = lower(reduceSrc, parseExpression(reduceSrc), (n) => (n === 'a' ? A : n === 'b' ? B : undefined),
      (n) => [`unknown identifier '${n}'`, 'the reduce expression combines a and b only']);
    const op = reduceOpOf(reduce);
    if (op === null) {
      throw new Error(`${label}: reduce expression ${JSON.stringify(reduceExpr)} is not supported: the backends reduce with a + b (sum), max(a, b) or min(a, b)`);
    }
    this.op = op;
    this.identity = parseIdentity(label, identity);

    this.postSrc = { kernel: label, text: postMapExpr, part: 'post-map' };
    this.post = postMapExpr.trim() === '' ? null : parseStatements(this.postSrc, true);
    const out = this.outParams[0].name;
    for (const s of this.post ?? []) {
      if (s.target === 'a' || this.inParams.some((p) => p.name === s.target)) {
        throw sourceError(this.postSrc, s.pos, `cannot assign to '${s.target}'`, `the post-map assigns the output ${out}`);
      }
    }
    if (this.post !== null && this.post[0].target !== null && !this.post.some((s) => s.target === out)) {
      throw new Error(`${label}: the post-map never assigns the output ${out} in ${JSON.stringify(postMapExpr)}`);
    }
    // every name resolves now, so errors come early: the map's with all inputs arrays,
    // the post-map's with all of them numbers
    this.mapFor('v'.repeat(this.inParams.length));
    this.postFor('s'.repeat(this.inParams.length));
  }

  /**
   * Reduce. The last argument may be `{ axis, keepdims }`. NDArrays (and numbers) in give
   * an NDArray; any Variable in gives a Variable whose backward reaches the inputs (map and
   * post-map are elementwise nodes, the reduction is F.sum, F.max or F.min).
   */
  call(...args: (NDArray | number)[] | [...(NDArray | number)[], ReduceOptions]): NDArray;
  call(...args: KernelArg[] | [...KernelArg[], ReduceOptions]): Variable;
  call(...args: (KernelArg | ReduceOptions)[]): NDArray | Variable {
    const last = args[args.length - 1];
    const hasOpts = typeof last === 'object' && last !== null && !(last instanceof NDArray) && !(last instanceof Variable) && !Array.isArray(last);
    const opts = hasOpts ? (last as ReduceOptions) : {};
    for (const k of Object.keys(opts)) {
      if (k !== 'axis' && k !== 'keepdims') throw new Error(`${this.label}: unknown option '${k}' (options: axis, keepdims)`);
    }
    const b = bindArgs(this.label, this.inParams, hasOpts ? args.slice(0, -1) : args);
    const outDtype = typeOf(this.label, this.outParams[0], b);
    const map = this.mapFor(b.pattern), post = this.postFor(b.pattern);
    const shape = broadcastShapes(b.arrays.map((a) => a.shape), this.label, b.arrayNames);
    const axes = normAxes(opts.axis, shape.length, this.label);
    const outShape = shape.filter((_, d) => !axes.includes(d));
    const count = axes.reduce((p, d) => p * shape[d], 1);
    if (count === 0 && this.op !== 'sum' && this.identity === null) {
      throw new Error(`${this.label}: a ${this.op} over zero elements needs an identity, and none was given`);
    }
    // the reduced value `a` is float unless it is the int32 output itself
    const reduced = post === A || outDtype !== 'int32' ? outDtype : 'float32';

    if (b.anyVariable && outDtype !== 'int32' && count > 0) {
      const k = map.op === 'input' ? map.value : -1;
      const m = k >= 0 && b.arrays[k].shape.join() === shape.join()
        ? asVariable(b.arrays[k])
        : applyKernel(this.name, [map], b.scalars, [reduced], b.arrayNames, b.arrays)[0];
      let y = this.op === 'sum' ? sum(m, axes, true) : this.op === 'max' ? max(m, axes, true) : min(m, axes, true);
      if (post !== A) y = applyKernel(this.name, [post], b.scalars, [outDtype], ['a'], [y])[0];
      return opts.keepdims ? y : reshape(y, outShape);
    }

    const arrays = b.arrays.map((a) => (a instanceof Variable ? a.data : a));
    const device = deviceOf(arrays, this.label, b.arrayNames);
    let y = backendOf(device).reduce(this.op, map, arrays, b.scalars, shape, axes, reduced);
    if (post !== A) y = runKernel(this.label, [post], [y], ['a'], b.scalars, [outDtype])[0];
    if (!opts.keepdims) y = y.reshape(outShape);
    return b.anyVariable ? new Variable(y, { requiresGrad: false }) : y;
  }

  /** Each parameter's leaf for one pattern of array ('v') and number ('s') arguments. */
  private leaves(pattern: string): Map<string, Expr> {
    const leaves = new Map<string, Expr>();
    let k = 0, m = 0;
    this.inParams.forEach((p, i) => leaves.set(p.name, pattern[i] === 'v' ? input(k++) : scalar(m++)));
    return leaves;
  }

  /** The map over the inputs, for one argument pattern. */
  private mapFor(pattern: string): Expr {
    let map = this.maps.get(pattern);
    if (map === undefined) {
      const leaves = this.leaves(pattern);
      map = lower(this.mapSrc, this.map, (n) => leaves.get(n),
        (n) => [`unknown identifier '${n}'`, `the inputs are ${this.inParams.map((p) => p.name).join(', ')}`]);
      this.maps.set(pattern, map);
    }
    return map;
  }

  /** The post-map over input(0) = a and the number arguments, for one argument pattern. */
  private postFor(pattern: string): Expr {
    let post = this.posts.get(pattern);
    if (post !== undefined) return post;
    const names = new Map<string, Expr>();
    for (const [n, e] of this.leaves(pattern)) if (e.op === 'scalar') names.set(n, e);
    names.set('a', this.identity === null || this.identity === NEUTRAL[this.op] ? A : COMBINE[this.op](A, this.identity));
    const unknown = (n: string): [string, string?] => this.inParams.some((p) => p.name === n)
      ? [`'${n}' is an array in this call`, 'the post-map sees a (the reduced value) and number arguments only']
      : this.post!.some((s) => s.target === n) ? [`'${n}' is read before it is assigned`] : [`unknown identifier '${n}'`, 'the reduced value is a'];
    post = names.get('a')!;
    for (const s of this.post ?? []) {
      const e = lower(this.postSrc, s.expr, (n) => names.get(n), unknown);
      if (s.target === null || s.target === this.outParams[0].name) post = e;
      if (s.target !== null) names.set(s.target, e);
    }
    this.posts.set(pattern, post);
    return post;
  }
}

function parseIdentity(label: string, identity: string | number | null): number | null {
  if (identity === null || (typeof identity === 'string' && identity.trim() === '')) return null;
  if (typeof identity === 'number') return identity;
  const src = { kernel: label, text: identity, part: 'identity' };
  const e = lower(src, parseExpression(src), () => undefined, (n) => [`unknown identifier '${n}'`, 'the identity is a number such as 0 or -inf']);
  if (!e.isConst) throw new Error(`${label}: identity ${JSON.stringify(identity)} is not a constant`);
  return e.value;
}

