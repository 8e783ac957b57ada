// Elementwise ops from one IR expression each: forward, broadcasting and backward derived.

import { Expr, input, scalar, substitute, topoSort } from '../../compiler/expr.js';
import { vjp } from '../../compiler/grad.js';
import { NDArray, broadcastShapes } from '../array/ndarray.js';
import { elementwise as runElementwise, zeros } from '../array/xp.js';
import { FunctionNode, Variable, describe, type VariableLike } from '../graph/variable.js';
import { sumTo } from './shape.js';

/**
 * One elementwise application: `expr` over input(0..n-1) and scalar(0..m-1). Backward is
 * another Elementwise node whose expression is the symbolic derivative, so gradients of
 * any order come from the same machinery, and fused chains later reuse it unchanged.
 */
export class Elementwise extends FunctionNode {
  constructor(
    readonly label: string,
    readonly expr: Expr,
    readonly scalars: readonly number[],
    readonly argNames: readonly string[],
    /** int32 inputs give an int32 result (add, mul, maximum...; not exp or div), as in NumPy */
    readonly intClosed = false,
  ) {
    super();
  }

  override checkInputs(xs: readonly NDArray[]): void {
    broadcastShapes(xs.map((x) => x.shape), this.label, this.argNames);
    const floats = new Set(xs.map((x) => x.dtype).filter((d) => d !== 'int32'));
    if (floats.size > 1) {
      const seen = xs.map((x, i) => `${this.argNames[i]} ${x.dtype}`).join(', ');
      throw new Error(`${this.label}: inputs mix float dtypes (${seen}); cast one of them first`);
    }
  }

  forward(xs: readonly NDArray[]): NDArray[] {
    const dtype = xs.find((x) => x.dtype !== 'int32')?.dtype ?? (this.intClosed && this.scalars.every(isInt32) ? 'int32' : 'float32');
    return runElementwise([this.expr], xs, this.scalars, { dtype, op: this.label, names: this.argNames });
  }

  // Only the inputs a derivative reads are checked for in-place writes: add's reads none,
  // mul's only the other factor (as PyTorch saves only those).
  protected override inputsReadByBackward(targets: readonly number[]): number[] {
    const n = this.inputs.length;
    return [...new Set(targets.flatMap((i) => compacted(gradExpr(this.expr, i, n)).used.filter((k) => k < n)))];
  }

  backward(targets: readonly number[], [gy]: readonly Variable[]): (Variable | null)[] {
    const xs = this.inputs;
    return targets.map((i) => {
      const g = gradExpr(this.expr, i, xs.length);
      const gx = applyExpr(`grad(${this.label})`, g, [...xs, gy], this.scalars);
      return sumTo(gx, xs[i].shape);
    });
  }
}

const isInt32 = (v: number) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;

const gradCache = new Map<Expr, Expr[]>();
/** d(expr)/d(input i) * input(n): the gradient expression, `input(n)` standing for gy. */
function gradExpr(expr: Expr, i: number, n: number): Expr {
  let row = gradCache.get(expr);
  if (row === undefined) gradCache.set(expr, (row = []));
  return (row[i] ??= vjp(expr, [i], input(n))[0]);
}

/**
 * Apply `expr` to `args`, passing only the inputs it actually reads (a derivative often
 * needs fewer than the forward had). An expression that is just one input is that input.
 */
export function applyExpr(label: string, expr: Expr, args: readonly Variable[], scalars: readonly number[]): Variable {
  if (expr.op === 'input') return args[expr.value];
  const { used, compact } = compacted(expr);
  if (used.length === 0) {
    // Every rule scales the incoming gradient, so an expression reading no input is the
    // zero gradient (of a comparison, say): materialise it at the broadcast shape.
    const shape = broadcastShapes(args.map((a) => a.shape), label);
    const dtype = args.find((a) => a.dtype !== 'int32')?.dtype ?? 'float32';
    return new Variable(zeros(shape, dtype, args[0].data.device), { requiresGrad: false });
  }
  const names = used.map((k) => `x${k}`);
  return new Elementwise(label, compact, scalars, names).apply(used.map((k) => args[k]))[0];
}

const compactCache = new Map<Expr, { used: number[]; compact: Expr }>();
/**
 * The inputs `expr` reads (ascending) and `expr` over just those, renumbered from 0;
 * cached, since expressions are interned and backward asks for the same ones every step.
 */
function compacted(expr: Expr): { used: number[]; compact: Expr } {
  let c = compactCache.get(expr);
  if (c === undefined) {
    const used = [...new Set(topoSort([expr]).filter((e) => e.op === 'input').map((e) => e.value))].sort((p, q) => p - q);
    const remap: Expr[] = [];
    used.forEach((k, j) => (remap[k] = input(j)));
    c = { used, compact: substitute([expr], remap)[0] };
    compactCache.set(expr, c);
  }
  return c;
}

export type ElementwiseOp = (...args: VariableLike[]) => Variable;

/**
 * Declare an elementwise op once, as an expression builder. Array arguments become
 * `input(k)`, number arguments become runtime scalars (one compiled kernel serves every
 * value), and the returned function checks, runs and records the op.
 *
 * ```ts
 * export const tanh = elementwise('tanh', ['x'], (x) => x.tanh());
 * ```
 */
export function elementwise(name: string, argNames: readonly string[], build: (...args: Expr[]) => Expr, opts: { intClosed?: boolean } = {}): ElementwiseOp {
  const exprs = new Map<string, Expr>(); // per pattern of array/number arguments
  return (...args: VariableLike[]): Variable => {
    if (args.length !== argNames.length) {
      throw new Error(`${name}: expected ${argNames.length} argument(s) (${argNames.join(', ')}), got ${args.length}`);
    }
    let pattern = '';
    const arrays: (Variable | NDArray)[] = [];
    const scalars: number[] = [];
    const names: string[] = [];
    args.forEach((a, i) => {
      if (typeof a === 'number') {
        pattern += 's';
        scalars.push(a);
      } else if (a instanceof Variable || a instanceof NDArray) {
        pattern += 'v';
        arrays.push(a);
        names.push(argNames[i]);
      } else {
        throw new Error(`${name}: argument ${argNames[i]} must be a Variable, NDArray or number, got ${describe(a)}`);
      }
    });
    if (arrays.length === 0) throw new Error(`${name}: at least one argument must be a Variable or NDArray`);
    let expr = exprs.get(pattern);
    if (expr === undefined) {
      let k = 0, m = 0;
      expr = build(...[...pattern].map((c) => (c === 'v' ? input(k++) : scalar(m++))));
      exprs.set(pattern, expr);
    }
    return new Elementwise(name, expr, scalars, names, opts.intClosed).apply(arrays)[0];
  };
}

