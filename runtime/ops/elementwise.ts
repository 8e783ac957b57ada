// The one elementwise node (K outputs over N inputs, one dispatch each way) and the typed op table.

import { Expr, constant, input, scalar, substitute, topoSort } from '../../compiler/expr.js';
import { vjp } from '../../compiler/grad.js';
import { planLocalDerivative, type DerivativeDecision } from '../../compiler/fusion/chain.js';
import { backendOf, deviceOf } from '../array/backend.js';
import { NDArray, broadcastShapes, sameShape, type DType, type Device } from '../array/ndarray.js';
import { zeros } from '../array/xp.js';
import { config } from '../graph/config.js';
import { FunctionNode, Variable, describe, type VariableLike } from '../graph/variable.js';
import { sumTo } from './shape.js';

/**
 * Every elementwise computation in the graph: one op, a user kernel, a fused chain, or the
 * backward of any of these. `roots` are K expressions over input(0..n-1) and scalar(0..m-1);
 * forward is ONE Backend.elementwise call writing all K outputs. Backward is ONE node of the
 * same kind whose roots are, per requested input i, sum_j d(root_j)/d(input i) * gy_j, so
 * gradients of any order come from the same symbolic machinery (compiler/grad.ts).
 *
 * When its backward will run and planLocalDerivative says it pays, the forward also writes
 * the local derivative dy/dx_i of each input wanting a gradient (in the same dispatch), and
 * the first-order backward is gy * d_i; `decision` records which way this node went.
 */
export class Elementwise extends FunctionNode {
  /** The store-or-recompute decision for this call (null until applied, or when no graph is recorded). */
  decision: Decision | null = null;
  /**
   * The inputs whose derivatives the forward stored, and the arrays (released with the node);
   * `y`, the output, until the first backward, which may take the forward's place (forwardWithBackward).
   */
  private stored: { readonly targets: readonly number[]; arrays: NDArray[]; y: NDArray | null } | null = null;

  constructor(
    readonly label: string,
    readonly roots: readonly Expr[],
    readonly scalars: readonly number[],
    readonly argNames: readonly string[],
    /** per-output dtypes (user kernels); omitted: the float input dtype, as NumPy's rule */
    readonly dtypes: readonly DType[] | null = null,
    /** int32 inputs give an int32 result (add, mul, maximum...; not exp or div), as in NumPy */
    readonly intClosed = false,
  ) {
    super();
  }

  /** What checkInputs found (the broadcast shape, the device, the output dtype): forward runs on it. */
  private checked: { readonly shape: readonly number[]; readonly device: Device; readonly dtype: DType | null } | null = null;

  override checkInputs(xs: readonly NDArray[]): void {
    const shape = broadcastShapes(xs.map((x) => x.shape), this.label, this.argNames);
    const device = deviceOf(xs, this.label, this.argNames);
    // a user kernel's parameter types were checked when bound
    const dtype = this.dtypes !== null ? null : elementwiseDtype(this.label, this.argNames, xs.map((x) => x.dtype), this.intClosed, this.scalars);
    this.checked = { shape, device, dtype };
  }

  /** The inputs wanting a gradient when apply() records a graph: what forward decides for. */
  private wrt: readonly number[] = [];

  override apply(inputs: readonly VariableLike[]): Variable[] {
    this.wrt = config.enableBackprop ? inputs.flatMap((x, i) => (x instanceof Variable && x.requiresGrad ? [i] : [])) : [];
    return super.apply(inputs);
  }

  forward(xs: readonly NDArray[]): NDArray[] {
    if (this.checked === null) this.checkInputs(xs);
    const { shape, device, dtype } = this.checked!;
    const dtypes = this.dtypes ?? this.roots.map(() => dtype!);
    const run = backendOf(device).elementwise;
    if (this.wrt.length > 0) {
      const broadcast = xs.map((x) => !sameShape(x.shape, shape));
      this.decision = derivativeDecision(this.roots, xs.length, this.wrt, broadcast);
    }
    const d = this.decision;
    if (d?.decision === 'store-derivative') {
      if (dtypes[0] === 'int32') {
        this.decision = { ...d, decision: 'recompute', why: 'an int32 output is piecewise constant: no gradient to store', derivatives: [], outputs: this.roots, withBackward: new Map() };
      } else {
        // y and every d_i in one dispatch, sharing the chain's intermediates
        const [y, ...ds] = run(d.outputs, xs, this.scalars, shape, dtypes[0]);
        this.stored = { targets: d.wrt, arrays: ds, y };
        return [y];
      }
    }
    if (dtypes.every((d) => d === dtypes[0])) return run(this.roots, xs, this.scalars, shape, dtypes[0]);
    // the backends give all outputs one dtype unless handed the output arrays
    return run(this.roots, xs, this.scalars, shape, dtypes[0], dtypes.map((d) => zeros(shape, d, device)));
  }

  // Only the inputs a derivative reads are checked for in-place writes: add's reads none,
  // mul's only the other factor (as PyTorch saves only those).
  protected override inputsReadByBackward(targets: readonly number[]): number[] {
    const n = this.inputs.length;
    return compacted(this.gradRoots(targets)).used.filter((k) => k < n);
  }

  override get retainedArrays(): readonly NDArray[] { return [...super.retainedArrays, ...(this.stored?.arrays ?? [])]; }

  override unchain(): void {
    super.unchain();
    this.stored = null;
  }

  backward(targets: readonly number[], gys: readonly Variable[]): (Variable | null)[] {
    const s = this.stored;
    // first order (a recorded backward needs the derivative as an expression: recompute)
    if (s !== null && !config.enableBackprop && targets.every((t) => s.targets.includes(t))) {
      const both = s.y === null ? null : this.forwardWithBackward(s.y, gys[0].data, targets);
      s.y = null;
      if (both !== null) {
        this.stored = null; // the d_i were never written: a later backward recomputes
        return both.map((gx) => new Variable(gx, { requiresGrad: false }));
      }
      const roots = targets.map((t) => input(0).mul(input(1 + s.targets.indexOf(t))));
      return applyExprs(`grad(${this.label})`, roots, [gys[0], ...s.arrays.map((a) => new Variable(a, { requiresGrad: false }))], []);
    }
    const xs = this.inputs;
    const gxs = applyExprs(`grad(${this.label})`, this.gradRoots(targets), [...xs, ...gys], this.scalars);
    return gxs.map((gx, t) => (gx === null ? null : sumTo(gx, xs[targets[t]].shape)));
  }

  /**
   * The first-order backward straight after the forward, while the device still holds the
   * forward's kernel (WebGPU, nothing recorded since: B3's `y.backward()`): ONE kernel writes y
   * and every gx_i = gy * dy/dx_i from the inputs and gy in the forward's place, as a
   * hand-written kernel would, and the d_i are never written. null when the forward's kernel
   * has gone to the device already (or the device runs kernels at once: the CPU).
   */
  private forwardWithBackward(y: NDArray, gy: NDArray, targets: readonly number[]): NDArray[] | null {
    const replace = backendOf(y.device).replaceLast;
    const d = this.decision;
    if (replace === undefined || d === null || gy.dtype !== y.dtype || !sameShape(gy.shape, y.shape)) return null;
    return replace(y, withBackward(d, targets, this.inputs.length), [...this.inputs.map((x) => x.data), gy], this.scalars)?.slice(1) ?? null;
  }

  /** The gradient expressions of `targets` over input(0..n-1) and gy_j = input(n + j). */
  private gradRoots(targets: readonly number[]): Expr[] {
    return targets.map((i) => gradExpr(this.roots, this.outputDtypes, i, this.inputs.length));
  }
}

/**
 * A node's store-or-recompute decision, with the root arrays it launches: the same arrays
 * every step, so the backend finds its launch plans for them (webgpu/backend.ts).
 */
type Decision = DerivativeDecision & {
  readonly wrt: readonly number[];
  /** the roots then the derivatives: what a storing forward writes */
  readonly outputs: readonly Expr[];
  /** per requested targets: y, then each gx = gy * dy/dx (forwardWithBackward) */
  readonly withBackward: Map<string, readonly Expr[]>;
};

const decisionCache = new Map<string, Decision>();
/** planLocalDerivative for a node, cached: expressions are interned, and every step asks again. */
function derivativeDecision(roots: readonly Expr[], n: number, wrt: readonly number[], broadcast: readonly boolean[]): Decision {
  const key = `${roots.map((r) => r.id).join(',')}|${n}|${wrt.join(',')}|${broadcast.map(Number).join('')}`;
  let d = decisionCache.get(key);
  if (d === undefined) {
    const plan = planLocalDerivative(roots, n, wrt, { broadcast });
    decisionCache.set(key, (d = { ...plan, wrt, outputs: [...roots, ...plan.derivatives], withBackward: new Map() }));
  }
  return d;
}

/** The roots of forwardWithBackward's kernel: y = roots[0], then gy * d_t for each target (gy is input n). */
function withBackward(d: Decision, targets: readonly number[], n: number): readonly Expr[] {
  const key = targets.join(',');
  let roots = d.withBackward.get(key);
  if (roots === undefined) {
    roots = [d.outputs[0], ...targets.map((t) => input(n).mul(d.derivatives[d.wrt.indexOf(t)]))];
    d.withBackward.set(key, roots);
  }
  return roots;
}

const isInt32 = (v: number) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;

/**
 * An elementwise op's output dtype, the one rule for eager ops, fuse(fn) and declared kernels:
 * the inputs' float dtype (mixing two is refused, naming the op and each argument's dtype),
 * else int32 when every input is int32, the op keeps integers (`intClosed`) and every number
 * argument is an int32, else float32.
 */
export function elementwiseDtype(label: string, names: readonly string[], dtypes: readonly DType[], intClosed: boolean, scalars: readonly number[]): DType {
  // a loop, no Set: every op of every traced or eager call asks
  let float: DType | null = null;
  for (const d of dtypes) {
    if (d === 'int32' || d === float) continue;
    if (float !== null) {
      const seen = dtypes.map((t, i) => `${names[i]} ${t}`).join(', ');
      throw new Error(`${label}: inputs mix float dtypes (${seen}); cast one of them first`);
    }
    float = d;
  }
  return float ?? (intClosed && scalars.every(isInt32) ? 'int32' : 'float32');
}

const gradCache = new Map<string, Expr>();
/**
 * sum_j d(root_j)/d(input i) * input(n + j): the gradient of input i given every output's
 * gradient. int32 outputs are piecewise constant, so they pass none.
 */
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

/**
 * Apply `roots` to `args` as ONE Elementwise node reading only the inputs some root reads (a
 * derivative often needs fewer than the forward had). A root that is just one input is that
 * input (add's gradient is gy: no kernel); a root that reads no input is a zero gradient, which
 * the kernel writes beside the others, or a fresh zero array when nothing else needs a kernel.
 */
export function applyExprs(label: string, roots: readonly Expr[], args: readonly Variable[], scalars: readonly number[]): (Variable | null)[] {
  if (roots.every((r) => r.op === 'input' || r.isConst)) {
    return roots.map((r) => {
      if (r.op === 'input') return args[r.value];
      // every gradient is linear in gy, so a constant one is zero
      const shape = broadcastShapes(args.map((a) => a.shape), label);
      const dtype = args.find((a) => a.dtype !== 'int32')?.dtype ?? 'float32';
      return new Variable(zeros(shape, dtype, args[0].data.device), { requiresGrad: false });
    });
  }
  const { used, compact } = compacted(roots);
  const node = new Elementwise(label, compact, scalars, used.map((k) => `x${k}`));
  return node.apply(used.map((k) => args[k]));
}

/**
 * The kernel the backward of `roots` (outputs of `dtypes`, over n inputs) runs when every
 * input wants a gradient: its roots and which of [...inputs, ...gys] it reads. What
 * precompile() prepares; null when backward needs no kernel (every gradient is some gy).
 */
export function backwardRoots(roots: readonly Expr[], dtypes: readonly DType[], n: number): { roots: Expr[]; used: number[] } | null {
  const grads = Array.from({ length: n }, (_, i) => gradExpr(roots, dtypes, i, n));
  if (grads.every((r) => r.op === 'input' || r.isConst)) return null;
  const { used, compact } = compacted(grads);
  return { roots: compact, used };
}

/**
 * The kernels a call of `roots` over n unbroadcast inputs, every one wanting a gradient, runs
 * when its forward stores the local derivatives (planLocalDerivative): the forward writing y and
 * each d_i, and the backward gy * d_i (over gy, then the d_i). What precompile() prepares
 * beside the recompute pair; null when such a call recomputes.
 */
export function storedDerivativeRoots(roots: readonly Expr[], n: number): { forward: Expr[]; backward: Expr[] } | null {
  const wrt = Array.from({ length: n }, (_, i) => i);
  const d = derivativeDecision(roots, n, wrt, wrt.map(() => false));
  if (d.decision !== 'store-derivative') return null;
  return { forward: [...roots, ...d.derivatives], backward: wrt.map((k) => input(0).mul(input(1 + k))) };
}

/** One root: applyExprs for a single expression. */
export function applyExpr(label: string, expr: Expr, args: readonly Variable[], scalars: readonly number[]): Variable {
  return applyExprs(label, [expr], args, scalars)[0]!;
}

const compactCache = new Map<string, { used: number[]; compact: Expr[] }>();
/**
 * The inputs `roots` read (ascending) and `roots` over just those, renumbered from 0;
 * cached, since expressions are interned and backward asks for the same ones every step.
 */
function compacted(roots: readonly Expr[]): { used: number[]; compact: Expr[] } {
  const key = roots.map((r) => r.id).join(',');
  let c = compactCache.get(key);
  if (c === undefined) {
    const used = [...new Set(topoSort(roots).filter((e) => e.op === 'input').map((e) => e.value))].sort((p, q) => p - q);
    const remap: Expr[] = [];
    used.forEach((k, j) => (remap[k] = input(j)));
    c = { used, compact: substitute(roots, remap) };
    compactCache.set(key, c);
  }
  return c;
}

// ---- the op table ---------------------------------------------------------------------------

/** Whether an argument takes an array, a number (a runtime scalar), or either. */
export type ArgKind = 'array' | 'number' | 'either';

/**
 * One row of the elementwise op table: everything F.*, the Variable methods, getArrayModule,
 * user kernels, fuse(fn) and the build-time transform need to know about an op.
 */
export interface ElementwiseDef<A extends readonly string[] = readonly string[]> {
  readonly name: string;
  /** argument names, in call order */
  readonly args: A;
  /** per argument: array, number or either (default either) */
  readonly kinds?: { readonly [K in A[number]]?: ArgKind };
  /** defaults of trailing number arguments (softplus's beta = 1) */
  readonly defaults?: { readonly [K in A[number]]?: number };
  /** the expression: array arguments arrive as input(k), numbers as scalar(m) */
  readonly build: (...args: { [K in keyof A]: Expr }) => Expr;
  /** int32 in, int32 out (add, mul, maximum...), as NumPy's integer arithmetic */
  readonly intClosed?: boolean;
  /** a check of number arguments before anything runs (finite, positive...) */
  readonly check?: (...args: { [K in keyof A]: VariableLike }) => void;
}

/** The argument tuple of an op: exactly its arity, trailing defaulted numbers optional. */
type Args<A extends readonly string[]> = { [K in keyof A]: VariableLike };

/** An elementwise op as called: exact arity, and its table row for introspection. */
export type ElementwiseOp<A extends readonly string[] = readonly string[]> = ((...args: Args<A>) => Variable) & { readonly def: ElementwiseDef<A> };

/** Hooks fuse(fn) sets while it traces; null otherwise. @internal */
export const TRACE: { hook: ((def: ElementwiseDef, expr: Expr, arrays: (Variable | NDArray)[], names: string[], scalars: number[]) => Variable) | null } = { hook: null };

/** Every op declared with elementwise(), by name, in declaration order: the op table. */
export const ELEMENTWISE_OPS = new Map<string, ElementwiseOp>();

/**
 * Declare an elementwise op once, as a row of the table. Array arguments become `input(k)`,
 * number arguments runtime scalars (one compiled kernel serves every value), and the
 * returned function checks, runs and records the op.
 *
 * ```ts
 * export const tanh = elementwise({ name: 'tanh', args: ['x'], build: (x) => x.tanh() });
 * ```
 */
export function elementwise<const A extends readonly string[]>(def: ElementwiseDef<A>): ElementwiseOp<A> {
  const { name, args: argNames } = def;
  if (ELEMENTWISE_OPS.has(name)) throw new Error(`elementwise: op ${name} is declared twice`);
  const build = def.build as (...a: Expr[]) => Expr;
  // the expression per pattern of array/number arguments (bit i set when argument i is a
  // number), as a one-root array: the same array every call, which the backend keys its launch plans by
  const exprs = new Map<number, readonly [Expr]>();
  const op = (...given: VariableLike[]): Variable => {
    const args = given.length === argNames.length ? given : argNames.map((a, i) => (i < given.length ? given[i] : def.defaults?.[a as A[number]]));
    if (given.length > argNames.length || args.some((a) => a === undefined)) {
      throw new Error(`${name}: expected ${argNames.length} argument(s) (${argNames.join(', ')}), got ${given.length}`);
    }
    // a loop, no closures or strings: every op of every eager or traced call comes through here
    let pattern = 0;
    const arrays: (Variable | NDArray)[] = [];
    const scalars: number[] = [];
    const names: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      const kind = def.kinds?.[argNames[i] as A[number]] ?? 'either';
      if (typeof a === 'number' && kind !== 'array') {
        pattern |= 1 << i;
        scalars.push(a);
      } else if ((a instanceof Variable || a instanceof NDArray) && kind !== 'number') {
        arrays.push(a);
        names.push(argNames[i]);
      } else {
        const want = kind === 'array' ? 'a Variable or NDArray' : kind === 'number' ? 'a number' : 'a Variable, NDArray or number';
        throw new Error(`${name}: argument ${argNames[i]} must be ${want}, got ${describe(a)}`);
      }
    }
    if (arrays.length === 0) throw new Error(`${name}: at least one argument must be a Variable or NDArray`);
    def.check?.(...(args as Args<A>));
    let roots = exprs.get(pattern);
    if (roots === undefined) {
      let k = 0, m = 0;
      roots = [build(...argNames.map((_, i) => ((pattern >> i) & 1 ? scalar(m++) : input(k++))))];
      exprs.set(pattern, roots);
    }
    if (TRACE.hook !== null) return TRACE.hook(def as unknown as ElementwiseDef, roots[0], arrays, names, scalars);
    return new Elementwise(name, roots, scalars, names, null, def.intClosed).apply(arrays)[0];
  };
  const row = Object.assign(op as unknown as (...args: Args<A>) => Variable, { def });
  ELEMENTWISE_OPS.set(name, row as unknown as ElementwiseOp);
  return row;
}

/** An op's expression with every argument an array: what user kernels and fusion compose. */
export function exprOf(def: ElementwiseDef, args: readonly Expr[]): Expr {
  return (def.build as (...a: Expr[]) => Expr)(...args);
}

/**
 * A hand-typed front (optional numbers with defaults, a number-or-array argument) over a
 * table row, keeping the row reachable as `.def` so introspection sees every op.
 */
export function withDef<F extends (...args: never[]) => Variable, A extends readonly string[]>(op: ElementwiseOp<A>, front: F): F & { readonly def: ElementwiseDef<A> } {
  return Object.assign(front, { def: op.def });
}
