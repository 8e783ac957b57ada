// Double backward: gradients of gradients, checked numerically (checkDoubleBackward).

import test from 'ava';
import { array, F } from '../../runtime/index.js';
import { awayFromZero, checkOpDoubleBackward, distinct, uniform } from '../helpers.js';

test('tanh: checkDoubleBackward', (t) => {
  checkOpDoubleBackward('tanh', (tanh) => (x) => tanh(x), [uniform([2, 3], 1, -2, 2)], [uniform([2, 3], 2)]);
  t.pass();
});

test('sigmoid: checkDoubleBackward', (t) => {
  checkOpDoubleBackward('sigmoid', (sigmoid) => (x) => sigmoid(x), [uniform([2, 3], 3, -3, 3)], [uniform([2, 3], 4)]);
  t.pass();
});

test('mul: checkDoubleBackward, same shapes and broadcasting', (t) => {
  checkOpDoubleBackward('mul', (mul) => (a, b) => mul(a, b), [uniform([2, 3], 5), uniform([2, 3], 6)], [uniform([2, 3], 7)]);
  checkOpDoubleBackward('mul', (mul) => (a, b) => mul(a, b), [uniform([2, 3], 8), uniform([3], 9)], [uniform([2, 3], 10)]);
  t.pass();
});

test('exp: checkDoubleBackward', (t) => {
  checkOpDoubleBackward('exp', (exp) => (x) => exp(x), [uniform([4], 11, -1, 1)], [uniform([4], 12)]);
  t.pass();
});

test('matmul: checkDoubleBackward, plain and with both transposes', (t) => {
  checkOpDoubleBackward('matmul', (matmul) => (a, b) => matmul(a, b), [uniform([2, 3], 13), uniform([3, 2], 14)], [uniform([2, 2], 15)]);
  checkOpDoubleBackward('matmul', (matmul) => (a, b) => matmul(a, b, true, true), [uniform([2, 3, 2], 16), uniform([2, 4, 3], 17)], [uniform([2, 2, 4], 18)]);
  t.pass();
});

test('softmax: checkDoubleBackward', (t) => {
  checkOpDoubleBackward('softmax', (softmax) => (x) => softmax(x), [uniform([2, 4], 19, -2, 2)], [uniform([2, 4], 20)]);
  t.pass();
});

test('logSoftmax: checkDoubleBackward', (t) => {
  checkOpDoubleBackward('logSoftmax', (logSoftmax) => (x) => logSoftmax(x, 0), [uniform([3, 2], 21, -2, 2)], [uniform([3, 2], 22)]);
  t.pass();
});

test('div, log, pow, softplus: checkDoubleBackward', (t) => {
  checkOpDoubleBackward('div', (div) => (a, b) => div(a, b), [uniform([3], 23), awayFromZero([3], 24, 0.5, 2)], [uniform([3], 25)]);
  checkOpDoubleBackward('log', (log) => (x) => log(x), [uniform([3], 26, 0.5, 2)], [uniform([3], 27)]);
  checkOpDoubleBackward('pow', (pow) => (a, b) => pow(a, b), [uniform([3], 28, 0.5, 2), uniform([3], 29)], [uniform([3], 30)]);
  checkOpDoubleBackward('softplus', (softplus) => (x) => softplus(x), [uniform([4], 31, -2, 2)], [uniform([4], 32)]);
  t.pass();
});

test('linear, getItem, max, softmaxCrossEntropy: checkDoubleBackward', (t) => {
  checkOpDoubleBackward('linear', (linear) => (x, W, b) => linear(x, W, b), [uniform([2, 3], 33), uniform([4, 3], 34), uniform([4], 35)], [uniform([2, 4], 36)]);
  checkOpDoubleBackward('getItem', (getItem) => (x) => F.tanh(getItem(x, [F.slice(null, null, -1), 1])), [uniform([3, 2], 37)], [uniform([3], 38)]);
  checkOpDoubleBackward('max', (max) => (x) => F.mul(max(x, 1), max(x, 1)), [distinct([2, 3], 39)], [uniform([2], 40)]);
  checkOpDoubleBackward('softmaxCrossEntropy', (sce) => (x, l) => sce(x, l), [uniform([3, 4], 41), array([1, -1, 3], [3], 'int32')], [uniform([], 42)]);
  t.pass();
});

test('add: checkDoubleBackward (gx = gy does not depend on x: a zero second derivative)', (t) => {
  checkOpDoubleBackward('add', (add) => (a, b) => add(a, b), [uniform([2, 3], 43), uniform([3], 44)], [uniform([2, 3], 45)]);
  t.pass();
});
