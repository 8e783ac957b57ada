// Symbolic reverse-mode derivative of an expression: one rule per primitive, one table.

import { Expr, constant, select, topoSort, type BinaryOp, type TernaryOp, type UnaryOp } from './expr.js';

type Rule = (node: Expr, g: Expr) => Expr[];

/**
 * `GRAD_RULES[op](node, g)` gives the adjoint of each argument of `node` when the adjoint of
 * `node` itself is `g`. Rules may reuse `node` (the forward value), which the kernel
 * recomputes: a fused backward never stores intermediates.
 */
export const GRAD_RULES: { [O in UnaryOp | BinaryOp | TernaryOp]: Rule } = {
  neg: (_, g) => [g.neg()],
  exp: (y, g) => [g.mul(y)],
  log: (y, g) => [g.div(y.args[0])],
  sqrt: (y, g) => [g.mul(0.5).div(y)],
  abs: (y, g) => [g.mul(y.args[0].sign())],
  sign: () => [constant(0)],
  tanh: (y, g) => [g.mul(constant(1).sub(y.mul(y)))],
  // from the output: finite (and tiny) far in either tail, where exp(-x) itself would overflow
  sigmoid: (y, g) => [g.mul(y.mul(constant(1).sub(y)))],
  add: (_, g) => [g, g],
  sub: (_, g) => [g, g.neg()],
  mul: ({ args: [a, b] }, g) => [g.mul(b), g.mul(a)],
  div: (y, g) => [g.div(y.args[1]), g.neg().mul(y).div(y.args[1])],
  pow: (y, g) => {
    const [a, b] = y.args;
    return [g.mul(b).mul(a.pow(b.sub(1))), g.mul(y).mul(a.log())];
  },
  // Ties send the whole gradient to the first argument, as Chainer's maximum/minimum do.
  max: ({ args: [a, b] }, g) => [select(a.ge(b), g, 0), select(a.ge(b), 0, g)],
  min: ({ args: [a, b] }, g) => [select(a.le(b), g, 0), select(a.le(b), 0, g)],
  lt: () => [constant(0), constant(0)],
  le: () => [constant(0), constant(0)],
  gt: () => [constant(0), constant(0)],
  ge: () => [constant(0), constant(0)],
  eq: () => [constant(0), constant(0)],
  ne: () => [constant(0), constant(0)],
  select: ({ args: [c] }, g) => [constant(0), select(c, g, 0), select(c, 0, g)],
};

/**
 * d(root)/d(input(k)) * g for each k in `wrt`, as expressions. Only nodes that depend on the
 * input are differentiated, so `pow(x, s)` never drags in `log(x)` when `s` is a constant.
 */
export function vjp(root: Expr, wrt: readonly number[], g: Expr): Expr[] {
  const order = topoSort([root]);
  const targets = new Set(wrt);
  // Which nodes depend on any requested input: adjoints flow only into those.
  const active = new Set<Expr>();
  for (const n of order) {
    if ((n.op === 'input' && targets.has(n.value)) || n.args.some((a) => active.has(a))) active.add(n);
  }
  const adjoint = new Map<Expr, Expr>([[root, g]]);
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i];
    const gn = adjoint.get(n);
    if (gn === undefined || n.args.length === 0) continue;
    const parts = GRAD_RULES[n.op as keyof typeof GRAD_RULES](n, gn);
    n.args.forEach((a, j) => {
      if (!active.has(a)) return;
      const prev = adjoint.get(a);
      adjoint.set(a, prev === undefined ? parts[j] : prev.add(parts[j]));
    });
  }
  return wrt.map((k) => {
    for (const [n, gn] of adjoint) if (n.op === 'input' && n.value === k) return gn;
    return constant(0);
  });
}
