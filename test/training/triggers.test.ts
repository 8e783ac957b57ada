// Triggers: interval (epochs, fractions, iterations), manual schedule, best value, early stopping.

import test from 'ava';
import {
  EarlyStoppingTrigger, IntervalTrigger, ManualScheduleTrigger, MaxValueTrigger, MinValueTrigger, getTrigger,
  type Trainer, type Trigger,
} from '../../runtime/training/index.js';
import { loadFromMap, saveToMap } from './memory-serializer.js';

/** A stand-in trainer stepping through an epoch of `perEpoch` iterations; `values` feed observation[key] per iteration. */
function run(trigger: Trigger, iterations: number, perEpoch: number, values: Record<number, Record<string, number>> = {}): number[] {
  const fired: number[] = [];
  for (let i = 1; i <= iterations; i++) {
    const trainer = {
      updater: { iteration: i, epoch: Math.floor(i / perEpoch), epochDetail: i / perEpoch, previousEpochDetail: (i - 1) / perEpoch },
      observation: values[i] ?? {},
    } as unknown as Trainer;
    if (trigger.call(trainer)) fired.push(i);
  }
  return fired;
}

test('IntervalTrigger fires at each epoch end, at fractions of an epoch, and every n iterations', (t) => {
  t.deepEqual(run(new IntervalTrigger(1, 'epoch'), 12, 4), [4, 8, 12]);
  t.deepEqual(run(new IntervalTrigger(2, 'epoch'), 12, 4), [8]);
  t.deepEqual(run(new IntervalTrigger(0.5, 'epoch'), 8, 4), [2, 4, 6, 8]);
  // 3 iterations per epoch: a 1/2-epoch period fires on the iteration that crosses each half
  t.deepEqual(run(new IntervalTrigger(0.5, 'epoch'), 6, 3), [2, 3, 5, 6]);
  t.deepEqual(run(new IntervalTrigger(5, 'iteration'), 12, 4), [5, 10]);
  t.deepEqual(new IntervalTrigger(20, 'epoch').getTrainingLength(), [20, 'epoch']);
});

test('IntervalTrigger does not fire before the first update', (t) => {
  const trainer = { updater: { iteration: 0, epochDetail: 0, previousEpochDetail: null }, observation: {} } as unknown as Trainer;
  t.false(new IntervalTrigger(1, 'epoch').call(trainer));
  t.false(new IntervalTrigger(1, 'iteration').call(trainer));
});

test('getTrigger takes a pair, a function or a Trigger, and rejects anything else with a message', (t) => {
  t.deepEqual(run(getTrigger([3, 'iteration']), 7, 4), [3, 6]);
  t.deepEqual(run(getTrigger((tr) => tr.updater.iteration === 2), 4, 4), [2]);
  t.throws(() => getTrigger([1, 'epochs' as 'epoch']), { message: `IntervalTrigger: unit must be 'epoch' or 'iteration', got "epochs"` });
  t.throws(() => getTrigger([0, 'epoch']), { message: 'IntervalTrigger: period must be a positive number, got 0' });
  t.throws(() => getTrigger([1.5, 'iteration']), { message: 'IntervalTrigger: period must be a positive integer, got 1.5' });
  t.throws(() => getTrigger({} as Trigger), { message: "getTrigger: expected a Trigger, a [period, 'epoch' | 'iteration'] pair or a function, got {}" });
});

test('ManualScheduleTrigger fires at the listed epochs or iterations only', (t) => {
  t.deepEqual(run(new ManualScheduleTrigger([1, 3], 'epoch'), 16, 4), [4, 12]);
  t.deepEqual(run(new ManualScheduleTrigger(2.5, 'epoch'), 16, 4), [10]);
  t.deepEqual(run(new ManualScheduleTrigger([2, 7, 30], 'iteration'), 16, 4), [2, 7]);
  t.throws(() => new ManualScheduleTrigger([], 'epoch'), { message: 'ManualScheduleTrigger: points must be positive numbers, got []' });
});

test('MaxValueTrigger and MinValueTrigger fire when the interval mean is a new best', (t) => {
  // accuracy per epoch (2 iterations each, averaged): 0.5, 0.7, 0.6, 0.8
  const acc = [0.4, 0.6, 0.7, 0.7, 0.6, 0.6, 0.9, 0.7];
  const values = Object.fromEntries(acc.map((a, i) => [i + 1, { acc: a, loss: 1 - a }]));
  t.deepEqual(run(new MaxValueTrigger('acc'), 8, 2, values), [2, 4, 8]);
  t.deepEqual(run(new MinValueTrigger('loss'), 8, 2, values), [2, 4, 8]);
  t.deepEqual(run(new MinValueTrigger('absent'), 8, 2, values), [], 'a key never reported never fires');
});

test('EarlyStoppingTrigger stops after `patience` checks without improvement, or at maxTrigger', (t) => {
  // validation loss once per epoch (4 iterations): improves twice, then stalls
  const loss = [1.0, 0.8, 0.9, 0.85, 0.81, 0.7];
  const values = Object.fromEntries(loss.map((l, e) => [4 * (e + 1), { 'validation/main/loss': l }]));
  const stop = new EarlyStoppingTrigger({ monitor: 'validation/main/loss', patience: 3 });
  t.is(stop.mode, 'min');
  t.deepEqual(run(stop, 24, 4, values).slice(0, 1), [20], 'epochs 3, 4, 5 do not beat 0.8: stop at the end of epoch 5');
  t.deepEqual(run(new EarlyStoppingTrigger({ monitor: 'validation/main/loss', patience: 3, maxTrigger: [2, 'epoch'] }), 24, 4, values).slice(0, 1), [8]);
  t.is(new EarlyStoppingTrigger({ monitor: 'validation/main/accuracy' }).mode, 'max');
  t.throws(() => new EarlyStoppingTrigger({ patience: 0 }), { message: 'EarlyStoppingTrigger: patience must be a positive integer, got 0' });
});

test('best-value and early-stopping state survive serialization: a restored trigger continues the same way', (t) => {
  const loss = [1.0, 0.8, 0.9, 0.85, 0.81, 0.7];
  const values = Object.fromEntries(loss.map((l, e) => [4 * (e + 1), { l }]));
  const first = new EarlyStoppingTrigger({ monitor: 'l', patience: 3 });
  const fire = (trig: Trigger, from: number, to: number) => run({ call: (tr) => tr.updater.iteration >= from && trig.call(tr) }, to, 4, values);
  t.deepEqual(fire(first, 1, 10), []);
  const restored = new EarlyStoppingTrigger({ monitor: 'l', patience: 3 });
  loadFromMap(saveToMap(first), restored);
  t.deepEqual(fire(restored, 11, 24).slice(0, 1), [20]);

  const best = new MinValueTrigger('l');
  t.deepEqual(fire(best, 1, 8), [4, 8]);
  const best2 = new MinValueTrigger('l');
  loadFromMap(saveToMap(best), best2);
  t.deepEqual(fire(best2, 9, 24), [24], 'only 0.7 beats the restored best, 0.8');
});
