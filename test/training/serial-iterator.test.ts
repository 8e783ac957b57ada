// SerialIterator: order, seeded shuffling, epoch boundaries and bad input.

import test from 'ava';
import { RandomState } from '../../runtime/index.js';
import { SerialIterator } from '../../runtime/training/index.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test('without shuffle, batches follow the dataset order and wrap into the next epoch', (t) => {
  const it = new SerialIterator(range(5), 2, { shuffle: false });
  const seen: [number[], number, boolean, number][] = [];
  for (let k = 0; k < 5; k++) {
    const batch = it.next();
    seen.push([batch, it.epoch, it.isNewEpoch, it.epochDetail]);
  }
  t.deepEqual(seen, [
    [[0, 1], 0, false, 0.4],
    [[2, 3], 0, false, 0.8],
    [[4, 0], 1, true, 1.2],  // crosses the end: completed from the next epoch
    [[1, 2], 1, false, 1.6],
    [[3, 4], 2, true, 2],
  ]);
  t.is(it.previousEpochDetail, 1.6);
});

test('without repeat, one pass with a short last batch, then it stops until reset', (t) => {
  const it = new SerialIterator(range(5), 2, { repeat: false });
  t.false(it.shuffle, 'no shuffling by default when not repeating');
  t.deepEqual([...it], [[0, 1], [2, 3], [4]]);
  t.is(it.epoch, 1);
  t.true(it.isNewEpoch);
  t.false(it.hasNext);
  t.deepEqual([...it], [], 'a finished iterator yields nothing');
  t.throws(() => it.next(), { message: 'SerialIterator.next: the iterator made its one pass (repeat is false); call reset() to start again' });
  it.reset();
  t.is(it.epoch, 0);
  t.is(it.previousEpochDetail, null);
  t.deepEqual([...it], [[0, 1], [2, 3], [4]]);
});

test('an exact multiple ends the epoch on the last batch', (t) => {
  const it = new SerialIterator(range(4), 2, { shuffle: false });
  it.next();
  t.false(it.isNewEpoch);
  it.next();
  t.true(it.isNewEpoch);
  t.is(it.epoch, 1);
  t.is(it.epochDetail, 1);
  t.deepEqual(it.next(), [0, 1]);
  t.false(it.isNewEpoch);
});

test('a batch larger than the dataset spans several epochs', (t) => {
  const it = new SerialIterator(range(2), 5, { shuffle: false });
  t.deepEqual(it.next(), [0, 1, 0, 1, 0]);
  t.is(it.epoch, 2);
  t.is(it.epochDetail, 2.5);
});

test('shuffling: every example once per epoch, a new order each epoch, the same orders for the same seed', (t) => {
  const epochs = (rng: RandomState) => {
    const it = new SerialIterator(range(10), 5, { rng });
    return [0, 1, 2].map(() => [...it.next(), ...it.next()]);
  };
  const a = epochs(new RandomState(0));
  for (const order of a) t.deepEqual([...order].sort((p, q) => p - q), range(10));
  t.notDeepEqual(a[0], range(10), 'shuffled');
  t.notDeepEqual(a[0], a[1], 'reshuffled each epoch');
  t.deepEqual(epochs(new RandomState(0)), a, 'same seed, same orders');
  t.notDeepEqual(epochs(new RandomState(1)), a, 'another seed, other orders');
});

test('datasets with get(i) are read through get', (t) => {
  const ds = { length: 3, get: (i: number) => `ex${i}` };
  t.deepEqual([...new SerialIterator(ds, 2, { repeat: false })], [['ex0', 'ex1'], ['ex2']]);
});

test('bad arguments name SerialIterator and the argument', (t) => {
  t.throws(() => new SerialIterator(range(3), 0), { message: 'SerialIterator: batchSize must be a positive integer, got 0' });
  t.throws(() => new SerialIterator(range(3), 2.5), { message: /batchSize must be a positive integer, got 2.5/ });
  t.throws(() => new SerialIterator([], 2), { message: 'SerialIterator: dataset is empty; expected at least one example' });
  t.throws(() => new SerialIterator(null as unknown as number[], 2), { message: /^SerialIterator: dataset must be an array or an object with length and get\(i\), got null/ });
});
