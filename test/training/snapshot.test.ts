// snapshot: the whole training state in one .npz under Chainer's keys, restored into a fresh Trainer.
// Serial tests: they share the global random stream, which a concurrent test would draw from.

import test from 'ava';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { L, RandomState, optimizers, random, seed, serializers } from '../../runtime/index.js';
import { readZipDirectory } from '../../runtime/serializers/zip.js';
import { SerialIterator, StandardUpdater, Trainer, extensions as E } from '../../runtime/training/index.js';
import { TinyClassifier, tinyDataset } from './tiny.js';

function build(out: string, stop: number) {
  seed(0);
  const model = new TinyClassifier(0.2);
  const optimizer = new optimizers.Adam(0.01).setup(model);
  const iter = new SerialIterator(tinyDataset(30), 4);
  const trainer = new Trainer(new StandardUpdater(iter, optimizer), [stop, 'iteration'], { out });
  trainer.extend(new E.LogReport({ trigger: [5, 'iteration'] }));
  return { model, optimizer, iter, trainer };
}

test.serial('snapshot writes the file its name pattern says, at its trigger, holding Chainer\'s keys', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'kusari-snap-'));
  const { trainer } = build(out, 12);
  trainer.extend(E.snapshot({ filename: 'snap_{epoch}_{iteration}' }), { trigger: [5, 'iteration'] });
  await trainer.run();
  t.deepEqual(readdirSync(out).filter((f) => f.startsWith('snap')).sort(), ['snap_0_5', 'snap_1_10']);
  const keys = readZipDirectory(readFileSync(join(out, 'snap_1_10')), 'snap').map((e) => e.name.replace(/\.npy$/, '')).sort();
  for (const k of [
    'updater/iteration', 'updater/iterator:main/current_position', 'updater/iterator:main/epoch', 'updater/iterator:main/order',
    'updater/iterator:main/is_new_epoch', 'updater/iterator:main/previous_epoch_detail',
    'updater/model:main/l1/W', 'updater/model:main/l2/b', 'updater/optimizer:main/t', 'updater/optimizer:main/l1/W/m',
    'extensions/LogReport/_log', 'random/state', 'elapsed_time',
  ]) t.true(keys.includes(k), `missing ${k} in ${keys.join(', ')}`);
});

test.serial('loading a snapshot into a freshly built Trainer restores model, optimizer, iterator, updater, log and random state', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'kusari-snap-'));
  const a = build(out, 11);
  await a.trainer.run();
  await serializers.saveNpz(join(out, 'state'), a.trainer);
  const draw = random.nextU32();

  const b = build(mkdtempSync(join(tmpdir(), 'kusari-snap-')), 11);
  await serializers.loadNpz(join(out, 'state'), b.trainer);
  t.is(random.nextU32(), draw, 'the global random stream continues where the saved run was');
  t.deepEqual([...b.model.params()].map((p) => Array.from(p.data.toFlat())), [...a.model.params()].map((p) => Array.from(p.data.toFlat())));
  t.is(b.optimizer.t, 11);
  t.is(b.trainer.updater.iteration, 11);
  t.is(b.iter.epoch, a.iter.epoch);
  t.is(b.iter.currentPosition, a.iter.currentPosition);
  t.is(b.iter.previousEpochDetail, a.iter.previousEpochDetail);
  t.deepEqual(b.iter.next().map(([x]) => Array.from(x.toFlat())), a.iter.next().map(([x]) => Array.from(x.toFlat())), 'the same next batch');
  t.deepEqual(b.trainer.getExtension<E.LogReport>('LogReport').log, a.trainer.getExtension<E.LogReport>('LogReport').log);
  t.true(b.trainer.elapsedTime > 0, 'elapsed time carries over');
});

test.serial('a snapshot of a different model fails to load and changes nothing, the random stream included', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'kusari-snap-'));
  const a = build(out, 3);
  await a.trainer.run();
  await serializers.saveNpz(join(out, 'state'), a.trainer);
  const other = new TinyClassifier();
  other.l1 = new L.Linear(4, 9);
  const trainer = new Trainer(new StandardUpdater(new SerialIterator(tinyDataset(30), 4), new optimizers.Adam().setup(other)), [3, 'iteration']);
  const before = [...other.params()].map((p) => Array.from(p.data.toFlat()));
  seed(123);
  await t.throwsAsync(serializers.loadNpz(join(out, 'state'), trainer), { message: /l1\/W.*shape/ });
  t.deepEqual([...other.params()].map((p) => Array.from(p.data.toFlat())), before);
  t.is(trainer.updater.iteration, 0, 'the updater is unchanged');
  t.is(random.nextU32(), new RandomState(123).nextU32(), 'the random stream is unchanged');
});
