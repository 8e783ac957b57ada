// Link, Chain, ChainList, Parameter: parameter discovery, path naming, cleargrads.

import test from 'ava';
import { NDArray, Variable, array, F, L } from '../../runtime/index.js';

class MLP extends L.Chain {
  l1 = new L.Linear(3, 4);
  l2 = new L.Linear(4, 2);
  forward(x: Variable): Variable { return this.l2.forward(F.relu(this.l1.forward(x))); }
}

class Outer extends L.Chain {
  scale = new L.Parameter(array([1, 1]));
  block = new MLP();
  head = new L.Linear(2, 1, { nobias: true });
  notALink = { l: 'plain objects are not searched' };
  forward(x: Variable): Variable { return this.head.forward(F.mul(this.block.forward(x), this.scale)); }
}

const names = (link: L.Link) => [...link.namedParams()].map(([n]) => n);

test('Chain: parameters are found by field, named by path, in declaration order', (t) => {
  const m = new MLP();
  t.deepEqual(names(m), ['/l1/W', '/l1/b', '/l2/W', '/l2/b']);
  const [, W] = [...m.namedParams()][0];
  t.is(W, m.l1.W);
  t.deepEqual([...m.params()].map((p) => p.shape), [[4, 3], [4], [2, 4], [2]]);
  t.is(m.countParams(), 12 + 4 + 8 + 2);
});

test('Chain: nested chains, own parameters and nobias links', (t) => {
  const m = new Outer();
  t.deepEqual(names(m), ['/scale', '/block/l1/W', '/block/l1/b', '/block/l2/W', '/block/l2/b', '/head/W']);
  t.deepEqual([...m.namedLinks()].map(([n]) => n), ['/', '/block', '/block/l1', '/block/l2', '/head']);
  t.true([...m.params()].every((p) => p instanceof L.Parameter && p.requiresGrad));
});

test('ChainList: children named 0, 1, ...; at(), length, iteration, append', (t) => {
  const list = new L.ChainList(new L.Linear(2, 3), new L.Linear(3, 1, { nobias: true }));
  t.deepEqual(names(list), ['/0/W', '/0/b', '/1/W']);
  t.is(list.length, 2);
  t.is(list.at(-1).outSize, 1);
  t.is(list.at(0).outSize, 3);
  t.deepEqual([...list].map((l) => l.outSize), [3, 1]);
  list.append(new L.Linear(1, 5));
  t.deepEqual(names(list), ['/0/W', '/0/b', '/1/W', '/2/W', '/2/b']);
  t.is(list.at(2).name, '2');
  t.throws(() => list.at(3), { message: 'ChainList: index 3 out of range for 3 links' });
  class WithList extends L.Chain { layers = new L.ChainList(new L.Linear(2, 2)); }
  t.deepEqual(names(new WithList()), ['/layers/0/W', '/layers/0/b']);
});

test('params() lists what namedParams() names, in its order, when links are shared and parameters tied', (t) => {
  // params() and cleargrads walk without building names (link.ts): the two walks must agree
  const shared = new L.Linear(2, 2);
  const tied = new L.Parameter(array([[1, 2]]));
  class Holder extends L.Chain { w = tied; }
  class Tied extends L.Chain {
    a = new MLP();
    list = new L.ChainList(shared, new L.Linear(2, 3));
    again = shared;
    h1 = new Holder();
    h2 = new Holder();
    scale = new L.Parameter(array([1, 2]));
    head = new L.Linear(3, 1);
  }
  const m = new Tied();
  const named = [...m.namedParams()];
  // a link's own parameters before its children's; the shared link and the tied w once each
  t.deepEqual(named.map(([n]) => n), ['/scale', '/a/l1/W', '/a/l1/b', '/a/l2/W', '/a/l2/b', '/list/0/W', '/list/0/b', '/list/1/W', '/list/1/b', '/h1/w', '/head/W', '/head/b']);
  const params = [...m.params()];
  t.is(params.length, named.length);
  params.forEach((p, i) => t.is(p, named[i][1], `parameter ${i} (${named[i][0]})`));
});

test('cleargrads forgets every gradient below a link', (t) => {
  const m = new Outer();
  const y = F.sum(m.forward(new Variable(array([[1, 2, 3], [4, 5, 6]]))));
  y.backward();
  const params = [...m.params()];
  t.true(params.every((p) => p.grad !== null), 'every parameter got a gradient');
  t.deepEqual(params.map((p) => p.grad!.shape), params.map((p) => p.shape));
  m.cleargrads();
  t.true(params.every((p) => p.grad === null));
});

test('Parameter: from an array or from an initializer, now or lazily', (t) => {
  const p = new L.Parameter(array([1, 2, 3]), undefined, { name: 'p' });
  t.is(p.name, 'p');
  t.true(p.isInitialized);
  t.true(p.requiresGrad);
  let calls = 0;
  const init = (shape: readonly number[]) => { calls++; return new NDArray(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(7), shape.slice()); };
  const lazy = new L.Parameter(init);
  t.false(lazy.isInitialized);
  t.is(lazy.size, 0);
  lazy.initialize([2, 2]);
  lazy.initialize([5, 5]); // a second call is a no-op
  t.true(lazy.isInitialized);
  t.is(calls, 1);
  t.deepEqual(lazy.data.toArray(), [[7, 7], [7, 7]]);
  const now = new L.Parameter(init, [3]);
  t.true(now.isInitialized);
  t.deepEqual(now.data.toArray(), [7, 7, 7]);
  t.is(new L.Parameter(L.initializers.zero, [2], { dtype: 'float64' }).dtype, 'float64');
});

test('addPersistent registers non-trainable state that is not a parameter', (t) => {
  class BN extends L.Link { gamma = new L.Parameter(array([1])); }
  const l = new BN();
  l.addPersistent('avgMean', array([0, 0]));
  t.true(l.persistents.has('avgMean'));
  t.deepEqual(names(l), ['/gamma']);
});
