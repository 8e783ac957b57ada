// Trainer, StandardUpdater and the reading extensions on a tiny problem: order, logs, evaluation, schedules.
// Serial tests: they seed and draw from the global random stream, which a concurrent test would disturb.

import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { F, config, noBackprop, optimizers, seed, testMode } from '../../runtime/index.js';
import {
  PRIORITY_EDITOR, PRIORITY_WRITER, SerialIterator, StandardUpdater, Trainer, concatExamples, extensions as E, type TriggerLike,
} from '../../runtime/training/index.js';
import { loadFromMap, saveToMap } from './memory-serializer.js';
import { TinyClassifier, tinyDataset } from './tiny.js';

const out = () => mkdtempSync(join(tmpdir(), 'kusari-trainer-'));

function setup(opts: { n?: number; batch?: number; stop?: TriggerLike; lr?: number } = {}) {
  seed(0);
  const model = new TinyClassifier();
  const optimizer = new optimizers.SGD(opts.lr ?? 0.1).setup(model);
  const train = tinyDataset(opts.n ?? 40, 1), test = tinyDataset(30, 2);
  const iter = new SerialIterator(train, opts.batch ?? 10);
  const updater = new StandardUpdater(iter, optimizer);
  const trainer = new Trainer(updater, opts.stop ?? [3, 'epoch'], { out: out() });
  return { model, optimizer, train, test, iter, updater, trainer };
}

/** Collects what a stream would print. */
const sink = (isTTY = false) => ({ text: '', isTTY, write(s: string) { this.text += s; } });

test.serial('the Trainer runs until the stop trigger, calling extensions by priority, then insertion order', async (t) => {
  const { trainer, updater } = setup({ stop: [7, 'iteration'] });
  const calls: string[] = [];
  trainer.extend(() => { calls.push(`reader@${updater.iteration}`); }, { name: 'reader' });
  trainer.extend({ call: () => { calls.push(`writer@${updater.iteration}`); }, priority: PRIORITY_WRITER }, { trigger: [3, 'iteration'] });
  trainer.extend({ call: () => { calls.push(`editor@${updater.iteration}`); }, priority: PRIORITY_EDITOR }, { trigger: [3, 'iteration'] });
  trainer.extend(() => { calls.push(`reader2@${updater.iteration}`); }, { name: 'reader', trigger: [5, 'iteration'] });
  await trainer.run();
  t.is(updater.iteration, 7);
  t.deepEqual(calls.filter((c) => c.endsWith('@3') || c.endsWith('@5')), ['writer@3', 'editor@3', 'reader@3', 'reader@5', 'reader2@5']);
  t.truthy(trainer.getExtension('reader_1'), 'a repeated name gets a suffix');
  t.throws(() => trainer.getExtension('nope'), { message: "Trainer.getExtension: no extension named 'nope' (have reader, extension, extension_1, reader_1)" });
});

test.serial('the model reports through the Trainer as main/loss and main/accuracy, one value per iteration', async (t) => {
  const { trainer } = setup({ stop: [2, 'iteration'] });
  const seen: Record<string, number>[] = [];
  trainer.extend((tr) => { seen.push({ ...tr.observation }); });
  await trainer.run();
  t.is(seen.length, 2);
  for (const obs of seen) {
    t.deepEqual(Object.keys(obs).sort(), ['main/accuracy', 'main/loss']);
    t.true(obs['main/loss'] > 0 && Number.isFinite(obs['main/loss']));
  }
});

test.serial('StandardUpdater equals the hand-written loop step for step', async (t) => {
  const { trainer, model } = setup({ stop: [5, 'iteration'] });
  await trainer.run();
  const byTrainer = [...model.params()].map((p) => Array.from(p.data.toFlat()));
  seed(0);
  const ref = new TinyClassifier();
  const opt = new optimizers.SGD(0.1).setup(ref);
  const it = new SerialIterator(tinyDataset(40, 1), 10);
  for (let i = 0; i < 5; i++) {
    const [x, y] = concatExamples(it.next());
    ref.cleargrads();
    F.softmaxCrossEntropy(ref.predict(x), y).backward();
    opt.update();
  }
  t.deepEqual(byTrainer, [...ref.params()].map((p) => Array.from(p.data.toFlat())));
});

test.serial('Evaluator reports the mean over test batches in test mode, without a graph, as validation/main/*', async (t) => {
  const { trainer, model, test: testSet } = setup({ stop: [1, 'epoch'] });
  trainer.extend(new E.Evaluator(new SerialIterator(testSet, 10, { repeat: false }), model));
  let seen: Record<string, number> = {};
  let expected = { loss: 0, accuracy: 0 };
  trainer.extend((tr) => {
    seen = { ...tr.observation };
    // an independent evaluation: three full batches of 10, each mean weighted equally
    let loss = 0, acc = 0;
    for (let b = 0; b < 3; b++) {
      const [x, y] = concatExamples(Array.from({ length: 10 }, (_, i) => testSet.get(10 * b + i)));
      testMode(() => noBackprop(() => {
        const out = model.predict(x);
        loss += F.softmaxCrossEntropy(out, y).itemSync() / 3;
        acc += F.accuracy(out, y).itemSync() / 3;
      }));
    }
    expected = { loss, accuracy: acc };
  }, { trigger: [1, 'epoch'] });
  await trainer.run();
  t.true(Math.abs(seen['validation/main/loss'] - expected.loss) < 1e-6, `${seen['validation/main/loss']} vs ${expected.loss}`);
  t.true(Math.abs(seen['validation/main/accuracy'] - expected.accuracy) < 1e-6);
  t.throws(() => new E.Evaluator(new SerialIterator(testSet, 10), model), {
    message: 'Evaluator: the iterator repeats and would never end; create it with { repeat: false }',
  });
});

test.serial('Evaluator builds no graph and runs with config.train false', async (t) => {
  const { model, test: testSet } = setup();
  const modes: [boolean, boolean][] = [];
  const ev = new E.Evaluator(new SerialIterator(testSet, 10, { repeat: false }), model, {
    evalFunc: (x, y) => {
      const loss = F.softmaxCrossEntropy(model.predict(x), y);
      modes.push([loss.creator === null, config.train]);
      return loss;
    },
  });
  await ev.evaluate();
  t.is(modes.length, 3);
  t.true(modes.every(([noGraph, train]) => noGraph && !train));
  t.true(config.train && config.enableBackprop, 'the config is restored afterwards');
});

test.serial('LogReport writes the interval means with epoch, iteration and elapsed_time to out/log, and PrintReport prints them', async (t) => {
  const { trainer } = setup({ stop: [3, 'epoch'] });
  const printed = sink();
  const losses: number[] = [];
  trainer.extend((tr) => { losses.push(tr.observation['main/loss']); }, { name: 'spy' });
  trainer.extend(new E.LogReport());
  trainer.extend(new E.PrintReport(['epoch', 'iteration', 'main/loss', 'missing'], { out: printed }));
  await trainer.run();
  const log = trainer.getExtension<E.LogReport>('LogReport').log;
  t.deepEqual(log.map((e) => [e.epoch, e.iteration]), [[1, 4], [2, 8], [3, 12]]);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  t.true(Math.abs(log[1]['main/loss'] - mean(losses.slice(4, 8))) < 1e-12, 'the second entry averages iterations 5-8');
  t.true(log.every((e, i) => e.elapsed_time > 0 && (i === 0 || e.elapsed_time >= log[i - 1].elapsed_time)));
  t.deepEqual(JSON.parse(readFileSync(join(trainer.out, 'log'), 'utf8')), log);
  const lines = printed.text.trimEnd().split('\n');
  t.is(lines[0], 'epoch       iteration   main/loss   missing');
  t.is(lines.length, 4);
  t.regex(lines[2], /^2 {11}8 {11}\d\.\d+$/);
});

test.serial('PrintReport formats numbers as Python\'s %g does', (t) => {
  const cases: [number, string][] = [[1, '1'], [0.5, '0.5'], [0.123456789, '0.123457'], [123456.7, '123457'], [1234567, '1.23457e+06'],
    [0.0000123, '1.23e-05'], [-2.5, '-2.5'], [0, '0'], [Number.NaN, 'nan']];
  for (const [x, s] of cases) t.is(E.formatG(x), s, String(x));
});

test.serial('PrintReport on a terminal erases the line first, so a row replaces the progress bar', async (t) => {
  const { trainer } = setup({ stop: [1, 'epoch'] });
  const tty = sink(true);
  trainer.extend(new E.LogReport());
  trainer.extend(new E.PrintReport(['epoch'], { out: tty }));
  await trainer.run();
  t.is(tty.text, '\r\x1b[Kepoch\n1\n');
});

test.serial('ExponentialShift multiplies the rate at each trigger, down to its target, and survives serialization', async (t) => {
  const { trainer, optimizer } = setup({ stop: [5, 'iteration'], lr: 0.8 });
  const rates: number[] = [];
  trainer.extend(new E.ExponentialShift('lr', 0.5, { target: 0.15 }), { trigger: [1, 'iteration'] });
  trainer.extend(() => { rates.push(optimizer.lr); });
  await trainer.run();
  t.deepEqual(rates, [0.4, 0.2, 0.15, 0.15, 0.15]);
  t.throws(() => new E.ExponentialShift('lr', 0), { message: 'ExponentialShift: rate must be a positive number, got 0' });

  const shift = new E.ExponentialShift('lr', 0.5);
  const again = setup({ stop: [2, 'iteration'], lr: 0.8 });
  again.trainer.extend(shift);
  await again.trainer.run();
  t.is(again.optimizer.lr, 0.2);
  // a resumed run starts with an optimizer at its configured rate; the shift puts back 0.2, then goes on
  const resumed = setup({ stop: [3, 'iteration'], lr: 0.8 });
  const shift2 = new E.ExponentialShift('lr', 0.5);
  loadFromMap(saveToMap(shift), shift2);
  resumed.trainer.extend(shift2);
  const after: number[] = [];
  resumed.trainer.extend(() => { after.push(resumed.optimizer.lr); });
  await resumed.trainer.run();
  t.deepEqual(after, [0.1, 0.05, 0.025]);
});

test.serial('LinearShift moves the attribute linearly over its time range, then holds it', async (t) => {
  const { trainer, optimizer } = setup({ stop: [6, 'iteration'], lr: 1 });
  const rates: number[] = [];
  trainer.extend(new E.LinearShift('lr', [0.5, 0.1], [1, 5]));
  trainer.extend(() => { rates.push(Number(optimizer.lr.toFixed(10))); });
  await trainer.run();
  t.deepEqual(rates, [0.5, 0.4, 0.3, 0.2, 0.1, 0.1]);
  const bad = setup({ stop: [1, 'iteration'] });
  bad.trainer.extend(new E.LinearShift('momentum', [1, 0], [0, 1]));
  await t.throwsAsync(bad.trainer.run(), { message: "LinearShift: the optimizer (SGD) has no numeric attribute 'momentum'" });
  t.throws(() => new E.LinearShift('lr', [1, 0], [3, 3]), { message: 'LinearShift: timeRange must be increasing, got [3, 3]' });
});

test.serial('an extension that throws ends the run, and every extension is still finalized', async (t) => {
  const { trainer } = setup({ stop: [10, 'iteration'] });
  let finalized = 0;
  trainer.extend({ call() {}, finalize() { finalized += 1; } });
  trainer.extend((tr) => { if (tr.updater.iteration === 3) throw new Error('boom'); });
  await t.throwsAsync(trainer.run(), { message: 'boom' });
  t.is(finalized, 1);
  t.is(trainer.updater.iteration, 3);
});

test.serial('StandardUpdater and Trainer reject what they cannot use, saying what they expected', (t) => {
  const { iter, optimizer } = setup();
  t.throws(() => new StandardUpdater(iter, new optimizers.SGD()), { message: 'StandardUpdater: the optimizer has no target; call optimizer.setup(model) first' });
  t.throws(() => new StandardUpdater(iter, optimizer, {}).getIterator('test'), { message: "StandardUpdater: no iterator named 'test' (have main)" });
  const trainer = new Trainer(new StandardUpdater(iter, optimizer), [1, 'epoch']);
  t.throws(() => trainer.extend({} as never), { message: 'Trainer.extend: expected an extension (an object with call(trainer)) or a function' });
});
