// One user kernel's launch on arrays, and the FunctionNode that makes it differentiable.

import { Expr, constant, input } from '../../compiler/expr.js';
import { vjp } from '../../compiler/grad.js';
import { deviceOf } from '../array/backend.js';
import { NDArray, broadcastShapes, type DType } from '../array/ndarray.js';
import { elementwise, zeros } from '../array/xp.js';
import { FunctionNode, Variable } from '../graph/variable.js';
import { applyExpr } from '../ops/elementwise.js';
import { sumTo } from '../ops/shape.js';

/**
 * Evaluate `roots` over `arrays` (broadcast together) in one kernel on their device,
 * output j of dtype `dtypes[j]`. `label` and `names` word the errors.
 */
export function runKernel(
  label: string, roots: readonly Expr[], arrays: readonly NDArray[], names: readonly string[],
  scalars: readonly number[], dtypes: readonly DType[],
): NDArray[] {
  const shape = broadcastShapes(arrays.map((a) => a.shape), label, names);
  const device = deviceOf(arrays, label, names);
  if (dtypes.every((d) => d === dtypes[0])) return elementwise(roots, arrays, scalars, { dtype: dtypes[0], op: label });
  // the backends give all outputs one dtype unless handed the output arrays
  const outs = dtypes.map((d) => zeros(shape, d, device));
  return elementwise(roots, arrays, scalars, { outs, op: label });
}

/**
 * A user kernel in the graph: forward is the kernel itself (one launch for every output);
 * backward is, for each input, sum_j d(root_j)/d(input) * gy_j as one expression, applied
 * with ops/elementwise.ts's applyExpr, so it is an Elementwise node and differentiable
 * again. int32 outputs are piecewise constant: they pass no gradient.
 */
export class KernelFunction extends FunctionNode {
  constructor(
    readonly label: string,
    readonly roots: readonly Expr[],
    readonly scalars: readonly number[],
    readonly dtypes: readonly DType[],
    readonly argNames: readonly string[],
  ) {
    super();
  }

  forward(xs: readonly NDArray[]): NDArray[] {
    return runKernel(this.label, this.roots, xs, this.argNames, this.scalars, this.dtypes);
  }

  backward(targets: readonly number[], gys: readonly Variable[]): (Variable | null)[] {
    const xs = this.inputs;
    return targets.map((i) => {
      const g = gradExpr(this.roots, this.dtypes, i, xs.length);
      if (g.isConst && g.value === 0) return null;
      return sumTo(applyExpr(`grad(${this.label})`, g, [...xs, ...gys], this.scalars), xs[i].shape);
    });
  }
}

const gradCache = new Map<string, Expr>();
/** The gradient expression of input i over input(0..n-1) and gy_j = input(n + j). */
function gradExpr(roots: readonly Expr[], dtypes: readonly DType[], i: number, n: number): Expr {
  const key = `${roots.map((r, j) => (dtypes[j] === 'int32' ? '-' : r.id)).join(',')}|${i}|${n}`;
  let g = gradCache.get(key);
  if (g === undefined) {
    g = roots
      .map((r, j) => (dtypes[j] === 'int32' ? null : vjp(r, [i], input(n + j))[0]))
      .reduce<Expr | null>((acc, part) => (part === null ? acc : acc === null ? part : acc.add(part)), null) ?? constant(0);
    gradCache.set(key, g);
  }
  return g;
}
