// Acceptance: shape and dtype errors name the op, the argument and the shapes seen vs expected.

import test from 'ava';
import { Variable, array, F } from '../../runtime/index.js';
import { uniform } from '../helpers.js';

test('acceptance: add with shapes that do not broadcast names add, x, y and both shapes', (t) => {
  const x = new Variable(uniform([2, 3], 1)), y = new Variable(uniform([2, 4], 2));
  const err = t.throws(() => F.add(x, y))!;
  t.regex(err.message, /^add:/);
  t.regex(err.message, /\bx \(2, 3\)/);
  t.regex(err.message, /\by \(2, 4\)/);
  t.throws(() => x.add(y), { message: /^add: shapes do not broadcast: x \(2, 3\), y \(2, 4\)$/ });
});

test('acceptance: matmul with mismatched inner dimensions names matmul, a, b and both shapes', (t) => {
  const err = t.throws(() => F.matmul(uniform([2, 3], 1), uniform([4, 5], 2)))!;
  t.is(err.message, 'matmul: inner dimensions 3 and 4 do not match: a (2, 3) and b (4, 5)');
  t.throws(() => F.matmul(uniform([2, 3, 4], 1), uniform([2, 5, 6], 2)), { message: /^matmul: .*a \(2, 3, 4\) and b \(2, 5, 6\)$/ });
});

test('acceptance: linear with a feature count W does not expect names linear, x, W and both shapes', (t) => {
  const err = t.throws(() => F.linear(uniform([8, 3], 1), uniform([10, 4], 2)))!;
  t.is(err.message, 'linear: x (8, 3) has 3 features per sample but W (10, 4) expects 4');
  t.throws(() => F.linear(uniform([8, 4], 1), uniform([10, 4], 2), uniform([4], 3)), {
    message: /^linear: b \(4,\) does not match W \(10, 4\): expected b \(10,\)$/,
  });
});

test('acceptance: softmaxCrossEntropy with labels of the wrong shape names the op, t, x and the expected shape', (t) => {
  const err = t.throws(() => F.softmaxCrossEntropy(uniform([4, 3], 1), array([0, 1, 2], [3], 'int32')))!;
  t.is(err.message, 'softmaxCrossEntropy: t (3,) does not match x (4, 3): expected t (4,)');
  t.throws(() => F.softmaxCrossEntropy(uniform([2, 3, 5], 1), array([0, 1], [2], 'int32')), {
    message: /^softmaxCrossEntropy: t \(2,\) does not match x \(2, 3, 5\): expected t \(2, 5\)$/,
  });
});

test('acceptance: softmaxCrossEntropy refuses float32 labels, naming the op, t and its dtype', (t) => {
  const err = t.throws(() => F.softmaxCrossEntropy(uniform([2, 3], 1), array([0, 2], [2], 'float32')))!;
  t.is(err.message, 'softmaxCrossEntropy: t must be an int32 array of labels, got float32 t (2,)');
  // a float Variable is refused the same way
  t.throws(() => F.softmaxCrossEntropy(uniform([2, 3], 1), new Variable(array([0, 2]))), { message: /^softmaxCrossEntropy: t must be an int32 array/ });
});
