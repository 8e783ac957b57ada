import test from 'ava';
import { Variable, array } from '../../runtime/index.js';

test('slide 24: z = x^2 + 2xy + y at x = y = 1 gives z 4, gx 4, gy 3', (t) => {
  const x = new Variable(array([1])), y = new Variable(array([1]));
  const z = x.pow(2).add(x.mul(2).mul(y)).add(y);
  z.backward();
  t.deepEqual(z.data.toArray(), [4]);
  t.deepEqual(x.grad!.toArray(), [4]);
  t.deepEqual(y.grad!.toArray(), [3]);
});
