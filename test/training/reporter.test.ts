// reporter: observer prefixes, scopes, reading values, summaries and their serialization.

import test from 'ava';
import { F, L, NDArray, Variable, array } from '../../runtime/index.js';
import { DictSummary, Reporter, getCurrentReporter, readObservation, report, type RawObservation } from '../../runtime/training/index.js';
import { loadFromMap, saveToMap } from './memory-serializer.js';

test('report() prefixes keys with the observer name and reads arrays and Variables into numbers', async (t) => {
  const model = new L.Chain();
  const r = new Reporter();
  r.addObserver('main', model);
  const obs: RawObservation = {};
  r.scope(obs, () => {
    t.is(getCurrentReporter(), r);
    report({ loss: F.sum(new Variable(array([1, 2, 3.5]))), accuracy: array(0.75) }, model);
    report({ 'lr': 0.01 });
  });
  t.is(getCurrentReporter(), null);
  t.deepEqual(Object.keys(obs).sort(), ['lr', 'main/accuracy', 'main/loss']);
  t.true(obs['main/loss'] instanceof NDArray, 'a Variable is kept as its data, not with its graph');
  t.deepEqual(await readObservation(obs), { 'main/loss': 6.5, 'main/accuracy': 0.75, lr: 0.01 });
});

test('addObservers registers child links under the prefix, as the Trainer does for main/l1', (t) => {
  const model = new L.Chain() as L.Chain & { l1: L.Linear };
  model.l1 = new L.Linear(2, 3);
  const r = new Reporter();
  r.addObservers('main', [...model.namedLinks()].filter(([p]) => p !== '/'));
  const obs: RawObservation = {};
  r.scope(obs, () => report({ norm: 1 }, model.l1));
  t.deepEqual(Object.keys(obs), ['main/l1/norm']);
});

test('nested scopes write into the innermost reporter and restore the outer one', (t) => {
  const outer = new Reporter(), inner = new Reporter();
  const a: RawObservation = {}, b: RawObservation = {};
  outer.scope(a, () => {
    report({ x: 1 });
    inner.scope(b, () => report({ y: 2 }));
    report({ z: 3 });
  });
  t.deepEqual(a, { x: 1, z: 3 });
  t.deepEqual(b, { y: 2 });
});

test('report() outside any scope does nothing, so a model that reports also runs alone', (t) => {
  t.notThrows(() => report({ loss: 1 }));
});

test('report() rejects an unregistered observer and a value with more than one element', (t) => {
  const r = new Reporter();
  r.scope({}, () => {
    t.throws(() => report({ loss: 1 }, new L.Chain()), {
      message: 'report: the observer (Chain) is not registered with the reporter; register it with addObserver(name, observer) or report without an observer',
    });
    t.throws(() => report({ loss: array([1, 2]) }), { message: "report: value for 'loss' must hold one element, got shape (2,)" });
  });
});

test('DictSummary keeps a count per key, gives means and standard deviations', (t) => {
  const s = new DictSummary();
  s.add({ a: 1, b: 10 });
  s.add({ a: 3 });
  s.add({ a: 5 });
  t.deepEqual(s.computeMean(), { a: 3, b: 10 });
  const stats = s.makeStatistics();
  t.is(stats.a, 3);
  t.true(Math.abs(stats['a.std'] - Math.sqrt(8 / 3)) < 1e-12);
  t.is(stats['b.std'], 0);
});

test('DictSummary serializes exactly (every bit of its sums) and restores into a fresh one', (t) => {
  const s = new DictSummary();
  s.add({ 'main/loss': 0.1 + 0.2, 'main/accuracy': 1 / 3 });
  s.add({ 'main/loss': Math.PI });
  const restored = new DictSummary();
  loadFromMap(saveToMap(s), restored);
  t.deepEqual(restored.computeMean(), s.computeMean());
  t.deepEqual(restored.makeStatistics(), s.makeStatistics());
});
