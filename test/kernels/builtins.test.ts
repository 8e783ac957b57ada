// User-kernel built-ins are the op table's rows: sigmoid and softplus agree with F's, value and gradient.

import test from 'ava';
import { array } from '../../runtime/array/xp.js';
import { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/graph/backward.js';
import { ElementwiseKernel } from '../../runtime/kernels/index.js';
import * as F from '../../runtime/ops/index.js';
import { sum } from '../../runtime/ops/shape.js';

const kSigmoid = new ElementwiseKernel('T x', 'T y', 'y = sigmoid(x)', 'k_sigmoid');
const kSoftplus = new ElementwiseKernel('T x', 'T y', 'y = softplus(x)', 'k_softplus');

/** d/dx of sum(f(x)) at each point, as the graph computes it */
function grad(f: (x: Variable) => Variable, xs: number[]): number[] {
  const x = new Variable(array(xs, [xs.length], 'float64'));
  sum(f(x)).backward();
  return Array.from(x.grad!.toFlat());
}

test("softplus: the user kernel's gradient at 0 is F.softplus's 0.5 (the twin gave 1)", (t) => {
  const g = grad((x) => kSoftplus.call(x), [0])[0];
  t.is(g, grad((x) => F.softplus(x), [0])[0]);
  t.is(g, 0.5);
});

test("sigmoid: the user kernel's gradient stays finite far in the negative tail, as F.sigmoid's (the twin gave NaN)", (t) => {
  const xs = [-800, -200, -50, 0, 50, 800];
  const g = grad((x) => kSigmoid.call(x), xs);
  t.true(g.every(Number.isFinite), `gradients ${g.join(', ')}`);
  t.deepEqual(g, grad((x) => F.sigmoid(x), xs));
});

test('sigmoid and softplus: user kernel values equal F over a sweep including both tails', (t) => {
  const xs = [-1000, -90, -30, -1, -1e-8, 0, 1e-8, 1, 30, 90, 1000];
  const x = array(xs, [xs.length], 'float64');
  t.deepEqual(Array.from(kSigmoid.call(x).toFlat()), Array.from(F.sigmoid(x).data.toFlat()));
  t.deepEqual(Array.from(kSoftplus.call(x).toFlat()), Array.from(F.softplus(x).data.toFlat()));
});
