// examples/mnist smoke tests: the Trainer example trains, reports, logs, plots, snapshots and resumes; the hand-written loop still runs.

import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const tsx = (script: string, ...args: string[]) => run(process.execPath, ['--import', 'tsx', script, ...args], { timeout: 60_000 });
const tmp = () => mkdtempSync(join(tmpdir(), 'kusari-mnist-'));

test('mnist --epochs 2 --limit 1000: a table row per epoch, the progress bar, the final accuracy and where the results are', async (t) => {
  const out = tmp();
  const { stdout } = await tsx('examples/mnist/train.ts', '--epochs', '2', '--limit', '1000', '--out', out);
  const lines = stdout.trim().split('\n');
  t.is(lines[0], "800 training and 200 test examples from the mnist package's digits, adam, batch 100, device cpu");
  t.is(lines[1], 'epoch       main/loss   validation/main/loss  main/accuracy  validation/main/accuracy  elapsed_time');
  for (const epoch of [1, 2]) t.regex(lines[1 + epoch], new RegExp(`^${epoch} {11}\\d\\.\\d+ +\\d\\.\\d+ +\\d\\.\\d+ +\\d\\.\\d+ +\\d+\\.\\d+$`));
  // piped, the bar writes plain lines: 16 iterations, fewer than its interval, so one line at the end
  t.regex(lines[4], /^epoch 2\/2 \[#{30}\] 100\.00% iter 16\/16 {2}\d+\.\d it\/s {2}ETA 0:00:00$/);
  const accuracy = Number(/^final test accuracy (\d+\.\d{2})%$/.exec(lines[5])?.[1]);
  // 16 steps on 800 digits: far from trained (about 70%), but well above chance (10%)
  t.true(accuracy > 40, `accuracy ${accuracy}% after two short epochs`);
  t.is(lines[6], `log: ${join(out, 'log')}  plots: ${join(out, 'loss.svg')}, ${join(out, 'accuracy.svg')}  ` +
    `snapshot: ${join(out, 'snapshot')} (continue with --resume ${join(out, 'snapshot')} --epochs N)`);
  t.is(lines.length, 7);
  const log = JSON.parse(readFileSync(join(out, 'log'), 'utf8')) as Record<string, number>[];
  t.deepEqual(log.map((e) => [e.epoch, e.iteration]), [[1, 8], [2, 16]]);
  t.is((100 * log[1]['validation/main/accuracy']).toFixed(2), accuracy.toFixed(2), 'the printed accuracy is the log\'s last');
  for (const f of ['loss.svg', 'accuracy.svg']) t.true(readFileSync(join(out, f), 'utf8').includes('<polyline'), f);
  t.true(existsSync(join(out, 'snapshot')));
});

test('mnist --resume: one epoch, then resumed to two, ends exactly where two epochs in one go end', async (t) => {
  const whole = tmp(), split = tmp();
  const final = (stdout: string) => /final test accuracy .*/.exec(stdout)?.[0];
  const log = (dir: string) => (JSON.parse(readFileSync(join(dir, 'log'), 'utf8')) as Record<string, number>[]).map(({ elapsed_time: _, ...e }) => e);
  const a = await tsx('examples/mnist/train.ts', '--epochs', '2', '--limit', '500', '--out', whole);
  await tsx('examples/mnist/train.ts', '--epochs', '1', '--limit', '500', '--out', split);
  const b = await tsx('examples/mnist/train.ts', '--epochs', '2', '--limit', '500', '--out', split, '--resume', join(split, 'snapshot'));
  t.regex(b.stdout, /, resumed from .*snapshot at epoch 1, iteration 4\n/);
  t.is(final(b.stdout), final(a.stdout));
  t.deepEqual(log(split), log(whole), 'every logged value, to the last bit');
});

test('mnist rejects a device it cannot run on, saying which devices it can', async (t) => {
  const err = await t.throwsAsync(tsx('examples/mnist/train.ts', '--device', 'tpu')) as Error & { code: number; stderr: string };
  t.is(err.code, 2);
  t.is(err.stderr.trim(), "train: --device must be cpu or webgpu, got 'tpu'");
});

test('mnist --data names the folder that lacks the IDX files', async (t) => {
  const err = await t.throwsAsync(tsx('examples/mnist/train.ts', '--data', tmp(), '--epochs', '1')) as Error & { stderr: string };
  t.regex(err.stderr, /getIdxDataset: .*kusari-mnist-\w+: neither train-images-idx3-ubyte nor train-images-idx3-ubyte\.gz is there/);
});

const FASHION = '/usr/share/datasets/fashion-mnist';
// CI installs Debian's dataset-fashion-mnist, so there a missing folder fails instead of skipping
(existsSync(FASHION) || process.env.CI === 'true' ? test : test.skip)('mnist --data reads Fashion-MNIST\'s IDX files and trains on them', async (t) => {
  const { stdout } = await tsx('examples/mnist/train.ts', '--data', FASHION, '--epochs', '1', '--limit', '3000', '--out', tmp());
  t.regex(stdout, new RegExp(`^3000 training and 3000 test examples from ${FASHION}, adam, batch 100, device cpu\n`));
  const accuracy = Number(/final test accuracy (\d+\.\d{2})%/.exec(stdout)?.[1]);
  // 30 steps on 3,000 clothes images: well above chance (10%), far from the 86% of three full epochs
  t.true(accuracy > 50, `accuracy ${accuracy}%`);
});

test('the hand-written loop (train-loop.ts) prints a line per epoch and the final accuracy', async (t) => {
  const { stdout } = await tsx('examples/mnist/train-loop.ts', '--epochs', '2', '--limit', '1000');
  const lines = stdout.trim().split('\n');
  t.is(lines[0], '800 training and 200 test digits, adam, batch 100, device cpu');
  for (const epoch of [1, 2]) {
    t.regex(lines[epoch], new RegExp(`^epoch {2}${epoch} {2}train loss \\d+\\.\\d{4} {2}test loss \\d+\\.\\d{4} {2}test accuracy \\d+\\.\\d{2}% {2}\\d+ samples/s$`));
  }
  t.is(lines.length, 4);
  t.true(Number(/^final test accuracy (\d+\.\d{2})%$/.exec(lines[3])?.[1]) > 40);
});
