// The symbolic derivative: every rule against a float64 central difference, tie rules, second order.

import test, { type ExecutionContext } from 'ava';
import { Expr, constant, evaluate, input, scalar, select, topoSort, type BinaryOp, type UnaryOp } from '../../compiler/expr.js';
import { GRAD_RULES, vjp } from '../../compiler/grad.js';

/** A small seeded generator (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Check vjp(f, all inputs, g) at `points` against (f(x + h e_k) - f(x - h e_k)) / 2h * g.
 * The adjoint g is input(n) after the n inputs, so the gradient expression is evaluated
 * with the same machinery the kernels use.
 */
function checkVjp(t: ExecutionContext, f: Expr, n: number, points: readonly number[][], scalars: readonly number[] = [], label = String(f)): void {
  const wrt = Array.from({ length: n }, (_, k) => k);
  const gs = vjp(f, wrt, input(n));
  const h = 1e-6;
  for (const x of points) {
    const g = 0.75;
    for (let k = 0; k < n; k++) {
      const up = x.slice(), down = x.slice();
      up[k] += h;
      down[k] -= h;
      const numeric = ((evaluate(f, up, scalars) - evaluate(f, down, scalars)) / (2 * h)) * g;
      const symbolic = evaluate(gs[k], [...x, g], scalars);
      const tol = 1e-6 + 1e-6 * Math.abs(numeric);
      if (!(Math.abs(symbolic - numeric) <= tol)) {
        t.fail(`${label}: d/dx${k} at [${x}] is ${symbolic}, numerically ${numeric}`);
        return;
      }
    }
  }
  t.pass();
}

/** `count` points with coordinates drawn from `domain` (a kink-free interval per input). */
function points(seed: number, count: number, domains: readonly [number, number][]): number[][] {
  const r = rng(seed);
  return Array.from({ length: count }, () => domains.map(([lo, hi]) => lo + (hi - lo) * r()));
}

const x = input(0), y = input(1), z = input(2);

// Domains keep each primitive smooth: log/sqrt/pow need a positive base, abs/sign avoid 0.
const UNARY_DOMAIN: { [O in UnaryOp]: [number, number][] } = {
  neg: [[-3, 3]], exp: [[-3, 3]], log: [[0.1, 5]], sqrt: [[0.1, 5]], abs: [[0.2, 3]], sign: [[0.2, 3]], tanh: [[-3, 3]], sigmoid: [[-6, 6]],
};
for (const op of Object.keys(UNARY_DOMAIN) as UnaryOp[]) {
  test(`vjp of ${op} matches a central difference`, (t) => {
    checkVjp(t, x[op](), 1, points(1, 20, UNARY_DOMAIN[op]));
    if (op === 'abs' || op === 'sign') checkVjp(t, x[op](), 1, points(2, 20, [[-3, -0.2]]));
  });
}

// max/min: the two inputs drawn from disjoint ranges, both orders, so no point is a tie.
const BINARY_DOMAIN: { [O in BinaryOp]: [number, number][][] } = {
  add: [[[-3, 3], [-3, 3]]], sub: [[[-3, 3], [-3, 3]]], mul: [[[-3, 3], [-3, 3]]],
  div: [[[-3, 3], [0.3, 3]], [[-3, 3], [-3, -0.3]]],
  pow: [[[0.2, 3], [-2, 3]]],
  max: [[[-3, -0.1], [0.1, 3]], [[0.1, 3], [-3, -0.1]]],
  min: [[[-3, -0.1], [0.1, 3]], [[0.1, 3], [-3, -0.1]]],
  lt: [[[-3, -0.1], [0.1, 3]]], le: [[[-3, -0.1], [0.1, 3]]], gt: [[[-3, -0.1], [0.1, 3]]],
  ge: [[[-3, -0.1], [0.1, 3]]], eq: [[[-3, -0.1], [0.1, 3]]], ne: [[[-3, -0.1], [0.1, 3]]],
};
for (const op of Object.keys(BINARY_DOMAIN) as BinaryOp[]) {
  test(`vjp of ${op} matches a central difference`, (t) => {
    BINARY_DOMAIN[op].forEach((d, i) => checkVjp(t, x[op](y), 2, points(10 + i, 20, d)));
  });
}

test('vjp of select matches a central difference and routes by the condition', (t) => {
  // the condition is drawn away from 0, where the result jumps
  checkVjp(t, select(x, y, z), 3, points(20, 20, [[0.5, 2], [-3, 3], [-3, 3]]));
  checkVjp(t, select(x, y, z), 3, points(21, 20, [[-2, -0.5], [-3, 3], [-3, 3]]));
  const [gc, ga, gb] = vjp(select(x, y, z), [0, 1, 2], input(3));
  t.is(gc, constant(0));
  t.is(evaluate(ga, [0, 5, 6, 2]), 0); // cond 0: all of it to b
  t.is(evaluate(gb, [0, 5, 6, 2]), 2);
});

test('every primitive has a rule, and non-differentiable ones give zero', (t) => {
  t.deepEqual(Object.keys(GRAD_RULES).sort(), [
    'abs', 'add', 'div', 'eq', 'exp', 'ge', 'gt', 'le', 'log', 'lt', 'max', 'min', 'mul', 'ne', 'neg', 'pow', 'select',
    'sigmoid', 'sign', 'sqrt', 'sub', 'tanh',
  ]);
  for (const op of ['lt', 'le', 'gt', 'ge', 'eq', 'ne'] as const) t.deepEqual(vjp(x[op](y), [0, 1], input(2)), [constant(0), constant(0)]);
  t.deepEqual(vjp(x.sign(), [0], input(1)), [constant(0)]);
});

test('ties of max and min send the whole gradient to the first argument, as in Chainer', (t) => {
  for (const op of ['max', 'min'] as const) {
    const [ga, gb] = vjp(x[op](y), [0, 1], input(2));
    t.is(evaluate(ga, [1.5, 1.5, 3]), 3, op);
    t.is(evaluate(gb, [1.5, 1.5, 3]), 0, op);
    // and max(x, x) passes all of it, once
    t.is(evaluate(vjp(x[op](x), [0], input(1))[0], [1.5, 3]), 3, `${op}(x, x)`);
  }
});

test('pow with a scalar or constant exponent differentiates without a log term', (t) => {
  for (const e of [x.pow(scalar(0)), x.pow(3), x.pow(0.5)]) {
    const [g] = vjp(e, [0], input(1));
    t.false(topoSort([g]).some((n) => n.op === 'log'), String(g));
  }
  checkVjp(t, x.pow(scalar(0)), 1, points(30, 10, [[0.2, 3]]), [2.5]);
  // a negative base is fine for an integral exponent: d/dx x^3 = 3x^2
  checkVjp(t, x.pow(3), 1, points(31, 10, [[-3, -0.2]]));
  // differentiating with respect to the exponent does bring in log(x)
  const [, gy] = vjp(x.pow(y), [0, 1], input(2));
  t.true(topoSort([gy]).some((n) => n.op === 'log'));
});

test('inputs the root does not depend on get a zero gradient', (t) => {
  t.deepEqual(vjp(x.exp(), [0, 1], input(2)).map((g) => g === constant(0)), [false, true]);
  t.is(vjp(x, [0], input(1))[0], input(1));
  t.is(vjp(constant(3), [0], input(1))[0], constant(0));
});

test('the chain rule through composites matches a central difference', (t) => {
  const sigmoid = (e: Expr) => constant(1).div(e.neg().exp().add(1));
  const softplus = (e: Expr) => e.max(0).add(e.abs().neg().exp().add(1).log());
  const composites: [Expr, number, [number, number][]][] = [
    // the acceptance chain of js.test.ts, with broadcasting left out
    [x.mul(y).add(z).tanh().mul(sigmoid(input(3))).sub(x.mul(x).neg().exp().div(input(3).abs().add(1))), 4, [[-2, 2], [-2, 2], [-1, 1], [0.2, 2]]],
    [sigmoid(x.mul(y)), 2, [[-2, 2], [-2, 2]]],
    [softplus(x.mul(3)), 1, [[0.1, 3]]],
    [softplus(x.mul(3)), 1, [[-3, -0.1]]],
    // x appears on several paths: adjoints must add up
    [x.mul(x).mul(x).add(x.div(y)).sub(x.exp().mul(y)), 2, [[-2, 2], [0.5, 2]]],
    [x.sqrt().log().mul(y.tanh()).pow(2), 2, [[1.5, 4], [-2, 2]]],
    [select(x.gt(y), x.mul(y), x.sub(y).exp()), 2, [[1, 2], [-2, 0.5]]],
    [x.sub(y).abs().add(x.min(y.mul(2))), 2, [[1, 2], [-2, 0]]],
  ];
  composites.forEach(([e, n, d], i) => checkVjp(t, e, n, points(40 + i, 15, d)));
});

test('second derivatives come from applying vjp twice', (t) => {
  // Hessian entries d2f/dxj dxk = d/dxj of (d f/dxk with adjoint 1), checked numerically.
  const fs: [Expr, number, [number, number][]][] = [
    [x.mul(y).tanh().add(x.pow(3)), 2, [[-1, 1], [-1, 1]]],
    [x.exp().div(y.mul(y).add(1)).log(), 2, [[-1, 1], [-2, 2]]],
    [x.sqrt().mul(y.neg().exp()).max(x.mul(y)), 2, [[0.5, 3], [-1, -0.5]]],
  ];
  for (const [f, n, d] of fs) {
    const wrt = Array.from({ length: n }, (_, k) => k);
    const grads = vjp(f, wrt, constant(1));
    for (const gk of grads) checkVjp(t, gk, n, points(50, 10, d), [], `d/dx of ${f}`);
  }
  // and closed forms: (tanh x)'' = -2 tanh x (1 - tanh^2 x)
  const [g1] = vjp(x.tanh(), [0], constant(1));
  const [g2] = vjp(g1, [0], constant(1));
  const v = 0.3, th = Math.tanh(v);
  t.true(Math.abs(evaluate(g2, [v]) - -2 * th * (1 - th * th)) < 1e-12);
});
