// The Trainer on each device: updater, Evaluator and a snapshot round trip give the CPU's numbers.
// Serial tests: they seed and draw from the global random stream.

import anyTest from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { optimizers, seed, serializers, type Device } from '../../runtime/index.js';
import { SerialIterator, StandardUpdater, Trainer, extensions as E } from '../../runtime/training/index.js';
import { allclose, useDevices } from '../helpers.js';
import { TinyClassifier, tinyDataset } from './tiny.js';

const test = anyTest.serial;
const devices = await useDevices(test);

function build(device: Device, stop: number, out: string) {
  seed(0);
  const model = new TinyClassifier();
  if (device === 'webgpu') model.toGpu();
  const optimizer = new optimizers.Adam(0.02).setup(model);
  const trainer = new Trainer(new StandardUpdater(new SerialIterator(tinyDataset(40), 10), optimizer, { device }), [stop, 'iteration'], { out });
  trainer.extend(new E.Evaluator(new SerialIterator(tinyDataset(20, 2), 10, { repeat: false }), model, { device }), { trigger: [4, 'iteration'] });
  trainer.extend(new E.LogReport({ trigger: [4, 'iteration'] }));
  return { model, trainer };
}

const params = async (m: TinyClassifier) => Promise.all([...m.params()].map(async (p) => Array.from(await p.data.data())));

let cpuReference: { params: number[][]; log: readonly Record<string, number>[] } | null = null;
async function reference() {
  if (cpuReference !== null) return cpuReference;
  const { model, trainer } = build('cpu', 8, mkdtempSync(join(tmpdir(), 'kusari-dev-')));
  await trainer.run();
  cpuReference = { params: await params(model), log: trainer.getExtension<E.LogReport>('LogReport').log };
  return cpuReference;
}

devices.each('Trainer: training, evaluation and a resume from a snapshot match the uninterrupted CPU run', async (t, device) => {
  const ref = await reference();
  const out = mkdtempSync(join(tmpdir(), 'kusari-dev-'));
  const first = build(device, 5, out);
  first.trainer.extend(E.snapshot({ filename: 'snap' }), { trigger: [5, 'iteration'] });
  await first.trainer.run();
  const second = build(device, 8, out);
  await serializers.loadNpz(join(out, 'snap'), second.trainer);
  await second.trainer.run();
  const got = await params(second.model);
  got.forEach((p, i) => allclose(t, p, ref.params[i], { rtol: 1e-4, atol: 1e-5 }));
  if (device === 'cpu') t.deepEqual(got, ref.params, 'bitwise on the CPU');
  const log = second.trainer.getExtension<E.LogReport>('LogReport').log;
  t.is(log.length, 2);
  for (const key of ['main/loss', 'validation/main/loss', 'validation/main/accuracy']) {
    t.true(Math.abs(log[1][key] - ref.log[1][key]) < 1e-4, `${key}: ${log[1][key]} vs ${ref.log[1][key]}`);
  }
});
