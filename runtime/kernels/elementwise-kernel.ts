// ElementwiseKernel: a user-written elementwise body, parsed into the IR, run on any device.

import { Expr, input, scalar } from '../../compiler/expr.js';
import { NDArray } from '../array/ndarray.js';
import { Variable } from '../graph/variable.js';
import { lower, parseStatements, sourceError, type SourceInfo, type Statement } from './expression.js';
import { applyKernel, runKernel } from './kernel-function.js';
import { bindArgs, checkOutputTypes, parseParams, typeOf, type KernelArg, type Param } from './params.js';

/**
 * An elementwise kernel written as text, after CuPy's `ElementwiseKernel`:
 *
 * ```ts
 * const squaredDiff = new ElementwiseKernel('T x, T y', 'T z', 'z = (x - y) * (x - y)', 'squared_diff');
 * const z = squaredDiff.call(x, y);        // NDArrays in, NDArray out, on x's device
 * const l = squaredDiff.call(xv, 0.5);     // a Variable in: a differentiable Variable out
 * ```
 *
 * Parameters are `type name`, the type float32, float64, int32 (or C's float, double, int),
 * or a capitalised placeholder such as `T` that takes the dtype of the arrays passed for it
 * (all of them must agree). The body is `name = expression` statements separated by `;`:
 * each output is assigned, and any other new name is a temporary for later statements.
 * Expressions have + - * / ** (right-associative), unary -, comparisons (1 or 0), `c ? a : b`,
 * parentheses, the constants inf, nan and pi, and the functions exp log sqrt abs sign tanh
 * max min pow, with sigmoid relu softplus square rsqrt where clip composed from them.
 * Arithmetic is floating point (float64 on the CPU, f32 on WebGPU), IEEE's on both (x / 0 is
 * +-Inf, 0 / 0 NaN, max/min return a NaN operand); an int32 output truncates toward zero,
 * saturating at int32's range, NaN giving 0. When every operand is int32 and the body uses
 * only + - * abs sign max min, comparisons and `?:`, arithmetic is int32: exact, and
 * wrapping on overflow as NumPy's int32 does.
 *
 * At call time any input may be an array or a number; a number is a runtime scalar of the
 * kernel, so a new value compiles nothing new. Arrays broadcast as in NumPy and must share
 * a device. A body that does not parse, reads an unknown name, or leaves an output unset is
 * refused here, at construction, with the kernel's name and the column.
 */
export class ElementwiseKernel {
  readonly inParams: readonly Param[];
  readonly outParams: readonly Param[];
  private readonly label: string;
  private readonly src: SourceInfo;
  private readonly statements: readonly Statement[];
  /** the output expressions for each pattern of array ('v') and number ('s') arguments */
  private readonly roots = new Map<string, Expr[]>();

  constructor(inParams: string, outParams: string, readonly body: string, readonly name = 'kernel') {
    this.label = `ElementwiseKernel ${name}`;
    this.inParams = parseParams(this.label, 'inParams', inParams);
    this.outParams = parseParams(this.label, 'outParams', outParams);
    checkOutputTypes(this.label, this.inParams, this.outParams);
    this.src = { kernel: this.label, text: body };
    this.statements = parseStatements(this.src);
    for (const s of this.statements) {
      if (this.inParams.some((p) => p.name === s.target)) {
        throw sourceError(this.src, s.pos, `cannot assign to input parameter '${s.target}'`);
      }
    }
    const assigned = new Set(this.statements.map((s) => s.target));
    const unset = this.outParams.filter((p) => !assigned.has(p.name)).map((p) => p.name);
    if (unset.length > 0) {
      throw new Error(`${this.label}: output${unset.length > 1 ? 's' : ''} ${unset.join(', ')} never assigned in ${JSON.stringify(body)}`);
    }
    this.rootsFor('v'.repeat(this.inParams.length)); // resolves every name now, so errors come early
  }

  /**
   * Run the kernel and return its only output. NDArrays (and numbers) in give an NDArray;
   * any Variable in gives a Variable recorded in the graph, so backward reaches the inputs.
   */
  call(...args: (NDArray | number)[]): NDArray;
  call(...args: KernelArg[]): Variable;
  call(...args: KernelArg[]): NDArray | Variable {
    if (this.outParams.length !== 1) {
      throw new Error(`${this.label}: has ${this.outParams.length} outputs (${this.outParams.map((p) => p.name).join(', ')}); use apply() to get them all`);
    }
    return this.apply(...args)[0];
  }

  /** Run the kernel and return every output, in outParams order (one launch for all). */
  apply(...args: (NDArray | number)[]): NDArray[];
  apply(...args: KernelArg[]): Variable[];
  apply(...args: KernelArg[]): NDArray[] | Variable[] {
    const b = bindArgs(this.label, this.inParams, args);
    const dtypes = this.outParams.map((p) => typeOf(this.label, p, b));
    const roots = this.rootsFor(b.pattern);
    if (b.anyVariable) return applyKernel(this.name, roots, b.scalars, dtypes, b.arrayNames, b.arrays);
    return runKernel(this.label, roots, b.arrays as NDArray[], b.arrayNames, b.scalars, dtypes);
  }

  private rootsFor(pattern: string): Expr[] {
    let roots = this.roots.get(pattern);
    if (roots !== undefined) return roots;
    const names = new Map<string, Expr>();
    let k = 0, m = 0;
    this.inParams.forEach((p, i) => names.set(p.name, pattern[i] === 'v' ? input(k++) : scalar(m++)));
    const unknown = (name: string): [string, string?] => this.statements.some((s) => s.target === name)
      ? [`'${name}' is read before it is assigned`]
      : [`unknown identifier '${name}'`, `the inputs are ${this.inParams.map((p) => p.name).join(', ')}`];
    for (const s of this.statements) {
      names.set(s.target!, lower(this.src, s.expr, (n) => names.get(n), unknown));
    }
    roots = this.outParams.map((p) => names.get(p.name)!);
    this.roots.set(pattern, roots);
    return roots;
  }
}
