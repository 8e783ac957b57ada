// The expression IR: interning, the folding identities, substitute and evaluate.

import test from 'ava';
import {
  BINARY_OPS, EVAL_BINARY, EVAL_UNARY, UNARY_OPS, constant, countLeaves, evaluate, input, scalar, select, substitute, topoSort,
} from '../../compiler/expr.js';

const x = input(0), y = input(1);

test('the same structure built twice is the same object', (t) => {
  const build = () => x.mul(y).add(scalar(0)).tanh().sub(x.exp());
  t.is(build(), build());
  t.is(select(x.gt(0), x, y), select(x.gt(0), x, y));
  t.is(constant(2.5), constant(2.5));
  t.not(x.add(y), y.add(x)); // interning is structural, not algebraic
  t.not(input(0), scalar(0));
});

test('a subterm used twice is one node of the DAG', (t) => {
  const s = x.mul(y);
  const e = s.add(s.exp());
  const nodes = topoSort([e]);
  t.is(nodes.filter((n) => n === s).length, 1);
  t.deepEqual(nodes.map(String), ['in0', 'in1', 'mul(in0, in1)', 'exp(mul(in0, in1))', 'add(mul(in0, in1), exp(mul(in0, in1)))']);
});

test('0 and -0 are different constants whichever is built first', (t) => {
  const negZero = constant(0).neg(); // folds to constant(-0)
  t.true(Object.is(negZero.value, -0));
  t.true(Object.is(constant(0).value, 0));
  t.not(constant(0), negZero);
});

test('constants fold through every primitive', (t) => {
  for (const op of UNARY_OPS) t.is(constant(0.5)[op](), constant(EVAL_UNARY[op](0.5)), op);
  for (const op of BINARY_OPS) t.is(constant(3)[op](2), constant(EVAL_BINARY[op](3, 2)), op);
  t.is(select(1, x, y), x);
  t.is(select(0, x, y), y);
  t.is(select(x.gt(0), y, y), y);
});

test('the identities that derivatives produce fold away', (t) => {
  t.is(x.add(0), x);
  t.is(constant(0).add(x), x);
  t.is(x.sub(0), x);
  t.is(constant(0).sub(x), x.neg());
  t.is(x.mul(1), x);
  t.is(constant(1).mul(x), x);
  t.is(x.mul(0), constant(0));
  t.is(constant(0).mul(x), constant(0));
  t.is(x.mul(-1), x.neg());
  t.is(constant(-1).mul(x), x.neg());
  t.is(x.div(1), x);
  t.is(constant(0).div(x), constant(0));
  t.is(x.pow(1), x);
  t.is(x.pow(0), constant(1));
  t.is(x.neg().neg(), x);
  // and nothing cleverer: these stay as written
  t.is(x.mul(2).op, 'mul');
  t.is(x.sub(x).op, 'sub');
  t.is(x.div(x).op, 'div');
});

test('substitute replaces leaves, keeps the omitted ones and refolds', (t) => {
  const e = x.mul(y).add(scalar(0));
  const [a] = substitute([e], [input(2), undefined]);
  t.is(a, input(2).mul(y).add(scalar(0)));
  const [b] = substitute([e], [undefined, constant(0)], [constant(3)]);
  t.is(b, constant(3)); // x*0 folds to 0, 0+3 to 3
  const [c] = substitute([select(x.gt(0), x, y)], [constant(-1)]);
  t.is(c, y);
  // shared subterms stay shared
  const s = x.exp();
  const [d] = substitute([s.mul(s)], [y]);
  t.is(d.args[0], d.args[1]);
});

test('countLeaves reports the highest input and scalar index plus one', (t) => {
  t.deepEqual(countLeaves([x.add(input(3)).mul(scalar(1))]), { inputs: 4, scalars: 2 });
  t.deepEqual(countLeaves([constant(1)]), { inputs: 0, scalars: 0 });
});

test('evaluate follows the scalar semantics of every primitive', (t) => {
  const a = 0.7, b = -1.3;
  for (const op of UNARY_OPS) t.is(evaluate(x[op](), [a]), EVAL_UNARY[op](a), op);
  for (const op of BINARY_OPS) t.is(evaluate(x[op](y), [a, b]), EVAL_BINARY[op](a, b), op);
  t.is(evaluate(x.mul(scalar(0)).add(scalar(1)), [2], [3, 4]), 10);
  t.is(evaluate(select(x, y, 5), [0, 1]), 5);
  t.is(evaluate(select(x, y, 5), [-2, 1]), 1);
  t.is(evaluate(select(x, y, 5), [NaN, 1]), 1); // NaN is not 0, so it counts as true
  t.is(evaluate(x.lt(y), [1, 2]), 1);
  t.is(evaluate(x.max(y), [NaN, 2]), NaN);
});
