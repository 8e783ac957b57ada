// The scalar expression IR: hash-consed DAGs that every elementwise kernel is rendered from.

/** Leaves: an input array element, a runtime scalar argument, or a literal. */
export type LeafOp = 'input' | 'scalar' | 'const';
export type UnaryOp = 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'sign' | 'tanh' | 'sigmoid';
export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max' | 'min'
  | 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne';
export type TernaryOp = 'select';
export type Op = LeafOp | UnaryOp | BinaryOp | TernaryOp;

export const UNARY_OPS: readonly UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'abs', 'sign', 'tanh', 'sigmoid'];
export const BINARY_OPS: readonly BinaryOp[] = [
  'add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'lt', 'le', 'gt', 'ge', 'eq', 'ne',
];

export type ExprLike = Expr | number;

/**
 * One node of a scalar expression. Nodes are interned: building the same expression twice
 * returns the same object, so identity is structural equality and a DAG shares subterms.
 * `input(i)` is the i-th array operand, `scalar(i)` the i-th runtime number (so a learning
 * rate that changes every step does not compile a new kernel), `const` a literal.
 */
export class Expr {
  private constructor(
    readonly op: Op,
    readonly args: readonly Expr[],
    /** input/scalar index, or the literal's value */
    readonly value: number,
    readonly id: number,
  ) {}

  private static nextId = 0;
  private static readonly table = new Map<string, Expr>();

  /** @internal the only way nodes are made: look up, or create and remember. */
  static make(op: Op, args: readonly Expr[], value = 0): Expr {
    // String(-0) is '0': without the sign, constant(0) and constant(-0) would share a node
    // built by hand, not args.map().join(): fuse(fn) makes nodes for every traced op of every call
    let key = `${op}:${Object.is(value, -0) ? '-0' : value}:`;
    for (let i = 0; i < args.length; i++) key += i === 0 ? `${args[i].id}` : `,${args[i].id}`;
    let e = Expr.table.get(key);
    if (e === undefined) {
      e = new Expr(op, args, value, Expr.nextId++);
      Expr.table.set(key, e);
    }
    return e;
  }

  get isConst(): boolean { return this.op === 'const'; }

  neg(): Expr { return unary('neg', this); }
  exp(): Expr { return unary('exp', this); }
  log(): Expr { return unary('log', this); }
  sqrt(): Expr { return unary('sqrt', this); }
  abs(): Expr { return unary('abs', this); }
  sign(): Expr { return unary('sign', this); }
  tanh(): Expr { return unary('tanh', this); }
  /** 1 / (1 + e^-x): a primitive, so its derivative is y (1 - y) from its output and neither tail overflows or underflows early. */
  sigmoid(): Expr { return unary('sigmoid', this); }
  add(o: ExprLike): Expr { return binary('add', this, o); }
  sub(o: ExprLike): Expr { return binary('sub', this, o); }
  mul(o: ExprLike): Expr { return binary('mul', this, o); }
  div(o: ExprLike): Expr { return binary('div', this, o); }
  pow(o: ExprLike): Expr { return binary('pow', this, o); }
  max(o: ExprLike): Expr { return binary('max', this, o); }
  min(o: ExprLike): Expr { return binary('min', this, o); }
  lt(o: ExprLike): Expr { return binary('lt', this, o); }
  le(o: ExprLike): Expr { return binary('le', this, o); }
  gt(o: ExprLike): Expr { return binary('gt', this, o); }
  ge(o: ExprLike): Expr { return binary('ge', this, o); }
  eq(o: ExprLike): Expr { return binary('eq', this, o); }
  ne(o: ExprLike): Expr { return binary('ne', this, o); }

  toString(): string {
    switch (this.op) {
      case 'input': return `in${this.value}`;
      case 'scalar': return `s${this.value}`;
      case 'const': return String(this.value);
      default: return `${this.op}(${this.args.map(String).join(', ')})`;
    }
  }
}

export const input = (i: number): Expr => Expr.make('input', [], i);
export const scalar = (i: number): Expr => Expr.make('scalar', [], i);
export const constant = (v: number): Expr => Expr.make('const', [], v);
export const lift = (x: ExprLike): Expr => (typeof x === 'number' ? constant(x) : x);

export function select(cond: ExprLike, a: ExprLike, b: ExprLike): Expr {
  const c = lift(cond), x = lift(a), y = lift(b);
  if (c.isConst) return c.value !== 0 ? x : y;
  if (x === y) return x;
  return Expr.make('select', [c, x, y]);
}

/**
 * The logistic function as every renderer computes it: with e = exp(-|x|) <= 1, 1 / (1 + e)
 * for x >= 0 and e / (1 + e) below, so no exp overflows and the negative tail is e^x's own
 * (not 1 - something rounded to 0 past x = -17). NaN stays NaN; +-Infinity give 1 and 0.
 */
export function sigmoid(x: number): number {
  const e = Math.exp(-Math.abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

/** Scalar semantics shared by constant folding and the JS renderer's tests. */
export const EVAL_UNARY: { [O in UnaryOp]: (x: number) => number } = {
  neg: (x) => -x, exp: Math.exp, log: Math.log, sqrt: Math.sqrt, abs: Math.abs,
  sign: Math.sign, tanh: Math.tanh, sigmoid,
};
export const EVAL_BINARY: { [O in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b,
  pow: Math.pow, max: Math.max, min: Math.min,
  lt: (a, b) => +(a < b), le: (a, b) => +(a <= b), gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b), eq: (a, b) => +(a === b), ne: (a, b) => +(a !== b),
};

function unary(op: UnaryOp, x: Expr): Expr {
  if (x.isConst) return constant(EVAL_UNARY[op](x.value));
  if (op === 'neg' && x.op === 'neg') return x.args[0];
  return Expr.make(op, [x]);
}

const isC = (e: Expr, v: number): boolean => e.isConst && e.value === v;

// Only the identities that derivatives produce all the time (g*1, g+0, 0*x); anything
// cleverer belongs in a pass with a test of its own.
function binary(op: BinaryOp, a: ExprLike, b: ExprLike): Expr {
  const x = lift(a), y = lift(b);
  if (x.isConst && y.isConst) return constant(EVAL_BINARY[op](x.value, y.value));
  switch (op) {
    case 'add':
      if (isC(x, 0)) return y;
      if (isC(y, 0)) return x;
      break;
    case 'sub':
      if (isC(y, 0)) return x;
      if (isC(x, 0)) return unary('neg', y);
      break;
    case 'mul':
      if (isC(x, 1)) return y;
      if (isC(y, 1)) return x;
      if (isC(x, 0) || isC(y, 0)) return constant(0);
      if (isC(x, -1)) return unary('neg', y);
      if (isC(y, -1)) return unary('neg', x);
      break;
    case 'div':
      if (isC(y, 1)) return x;
      if (isC(x, 0)) return constant(0);
      break;
    case 'pow':
      if (isC(y, 1)) return x;
      if (isC(y, 0)) return constant(1);
      break;
  }
  return Expr.make(op, [x, y]);
}

/** Nodes of the DAGs under `roots`, each once, children before parents. */
export function topoSort(roots: readonly Expr[]): Expr[] {
  const seen = new Set<Expr>();
  const order: Expr[] = [];
  // an explicit stack: a kernel body of thousands of terms is a DAG thousands deep
  const stack: { e: Expr; next: number }[] = [];
  for (const root of roots) {
    if (seen.has(root)) continue;
    seen.add(root);
    stack.push({ e: root, next: 0 });
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.e.args.length) {
        const a = top.e.args[top.next++];
        if (!seen.has(a)) {
          seen.add(a);
          stack.push({ e: a, next: 0 });
        }
      } else {
        order.push(top.e);
        stack.pop();
      }
    }
  }
  return order;
}

/** Highest input / scalar index used, plus one. */
// The primitives that map int32 to int32 (NumPy's integer arithmetic: wrapping add, sub, mul).
const INT_OPS: ReadonlySet<Op> = new Set<Op>(['input', 'scalar', 'neg', 'abs', 'sign', 'add', 'sub', 'mul', 'max', 'min', 'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'select']);
const isInt32 = (v: number) => Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;

/**
 * Whether `roots` can run in int32 arithmetic: integer primitives only and int32 literals.
 * Backends do so when every operand is int32 (and the scalars are int32 too), so int32 sums
 * stay exact past 2^24 and wrap as NumPy's do, the same on every device.
 */
export function isIntegerExpr(roots: readonly Expr[]): boolean {
  return topoSort(roots).every((e) => INT_OPS.has(e.op) || (e.op === 'const' && isInt32(e.value)));
}

/** Highest scalar index used, plus one (a loop, not Math.max(...): bodies can be large). */
export function countScalars(roots: readonly Expr[]): number {
  let n = 0;
  for (const e of topoSort(roots)) if (e.op === 'scalar' && e.value + 1 > n) n = e.value + 1;
  return n;
}

export function countLeaves(roots: readonly Expr[]): { inputs: number; scalars: number } {
  let inputs = 0, scalars = 0;
  for (const e of topoSort(roots)) {
    if (e.op === 'input') inputs = Math.max(inputs, e.value + 1);
    if (e.op === 'scalar') scalars = Math.max(scalars, e.value + 1);
  }
  return { inputs, scalars };
}

/** Replace leaves: `inputs[i]` for input(i), `scalars[i]` for scalar(i) (omitted = kept). */
export function substitute(
  roots: readonly Expr[],
  inputs: readonly (Expr | undefined)[],
  scalars: readonly (Expr | undefined)[] = [],
): Expr[] {
  // one op over leaves (what each elementwise op's table row builds): no walk, no memo
  if (roots.length === 1 && roots[0].args.every((a) => a.args.length === 0)) {
    const e = roots[0];
    return [e.args.length === 0 ? leafFor(e, inputs, scalars) : rebuild(e, e.args.map((a) => leafFor(a, inputs, scalars)))];
  }
  // children first (topoSort's order), so each node's arguments are in memo already; a loop,
  // not a recursive closure: fuse(fn) substitutes once per traced op of every call
  const memo = new Map<Expr, Expr>();
  for (const e of topoSort(roots)) memo.set(e, e.args.length === 0 ? leafFor(e, inputs, scalars) : rebuild(e, e.args.map((a) => memo.get(a)!)));
  return roots.map((e) => memo.get(e)!);
}

/** What substitute puts for the leaf `e`. */
function leafFor(e: Expr, inputs: readonly (Expr | undefined)[], scalars: readonly (Expr | undefined)[]): Expr {
  if (e.op === 'input') return inputs[e.value] ?? e;
  return e.op === 'scalar' ? scalars[e.value] ?? e : e;
}

/** `e`'s op over new arguments (simplified as building it anew would). */
function rebuild(e: Expr, args: readonly Expr[]): Expr {
  if (e.op === 'select') return select(args[0], args[1], args[2]);
  return args.length === 1 ? unary(e.op as UnaryOp, args[0]) : binary(e.op as BinaryOp, args[0], args[1]);
}

/** Evaluate with plain numbers: the reference that renderers are tested against. */
export function evaluate(e: Expr, inputs: readonly number[], scalars: readonly number[] = []): number {
  const memo = new Map<Expr, number>();
  for (const n of topoSort([e])) {
    const a = n.args.map((x) => memo.get(x)!);
    let v: number;
    switch (n.op) {
      case 'input': v = inputs[n.value]; break;
      case 'scalar': v = scalars[n.value]; break;
      case 'const': v = n.value; break;
      case 'select': v = a[0] !== 0 ? a[1] : a[2]; break;
      default:
        v = a.length === 1 ? EVAL_UNARY[n.op as UnaryOp](a[0]) : EVAL_BINARY[n.op as BinaryOp](a[0], a[1]);
    }
    memo.set(n, v);
  }
  return memo.get(e)!;
}
