// Run configuration (noBackprop, usingConfig, testMode) and the DOT drawing of a graph.

import test from 'ava';
import { Variable, array, buildComputationalGraph, config, noBackprop, testMode, usingConfig, F, L } from '../../runtime/index.js';

test('noBackprop builds no graph: outputs have no creator and need no gradient', (t) => {
  const W = new Variable(array([1, 2]), { name: 'W' });
  const y = noBackprop(() => F.sum(F.tanh(F.mul(W, 3))));
  t.is(y.creator, null);
  t.false(y.requiresGrad);
  t.true(config.enableBackprop, 'restored afterwards');
  const z = F.sum(F.tanh(F.mul(W, 3)));
  t.not(z.creator, null);
  t.is(z.itemSync(), y.itemSync(), 'same value with or without a graph');
});

test('usingConfig and testMode set config inside and restore it, also when fn throws', (t) => {
  t.true(config.train);
  t.true(config.enableBackprop);
  t.is(usingConfig({ train: false }, () => config.train), false);
  t.is(testMode(() => (config.train ? 'train' : 'test')), 'test');
  t.throws(() => usingConfig({ train: false, enableBackprop: false }, () => { throw new Error('boom'); }), { message: 'boom' });
  t.true(config.train);
  t.true(config.enableBackprop);
  t.throws(() => testMode(() => { throw new Error('inner'); }), { message: 'inner' });
  t.true(config.train);
  t.throws(() => noBackprop(() => { throw new Error('nb'); }), { message: 'nb' });
  t.true(config.enableBackprop);
  // nesting restores each level
  usingConfig({ train: false }, () => {
    noBackprop(() => {
      t.false(config.train);
      t.false(config.enableBackprop);
    });
    t.false(config.train);
    t.true(config.enableBackprop);
  });
  t.true(config.train);
});

test('buildComputationalGraph: DOT with the function labels and the edges of a small net', (t) => {
  const x = new Variable(array([[1, 2, 3]]), { name: 'x' });
  const l = new L.Linear(3, 2);
  const h = F.relu(l.forward(x));
  const y = F.sum(h);
  const dot = buildComputationalGraph([y]);
  t.true(dot.startsWith('digraph'));
  t.true(dot.trimEnd().endsWith('}'));
  const lines = dot.split('\n');
  t.is(new Set(lines).size, lines.length, 'no node or edge is drawn twice');
  const nodes = new Map<string, string>(); // label -> id
  for (const m of dot.matchAll(/^\s*(\w+) \[label="([^"]*)"/gm)) nodes.set(m[2], m[1]);
  const edges = new Set([...dot.matchAll(/^\s*(\w+) -> (\w+);/gm)].map((m) => `${m[1]}->${m[2]}`));
  for (const label of ['linear', 'relu', 'sum']) t.true(nodes.has(label), `no function node labelled ${label} in\n${dot}`);
  const xId = nodes.get('x (1, 3) float32');
  t.truthy(xId, `x is drawn with its name, shape and dtype:\n${dot}`);
  const id = (label: string) => nodes.get(label)!;
  // data flows x -> linear (x W^T + b in one node) -> (h0) -> relu -> (h) -> sum -> y
  t.true(edges.has(`${xId}->${id('linear')}`));
  const out = (f: string) => [...edges].filter((e) => e.startsWith(`${id(f)}->`)).map((e) => e.split('->')[1]);
  const into = (f: string) => [...edges].filter((e) => e.endsWith(`->${id(f)}`)).map((e) => e.split('->')[0]);
  t.true(out('linear').some((v) => into('relu').includes(v)), 'linear feeds relu through a variable');
  t.true(out('relu').some((v) => into('sum').includes(v)), 'relu feeds sum');
  t.is(out('sum').length, 1);
  t.is(into('linear').length, 3, 'x, W and b');
  t.is(edges.size, 3 + 1 + 2 + 2, 'x, W, b -> linear -> v; v -> relu -> v; v -> sum -> y');
});
