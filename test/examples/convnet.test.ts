// examples/convnet smoke test: one short epoch trains, evaluates and exits 0; bad flags are refused.

import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const tsx = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'examples/convnet/train.ts', ...args], { timeout: 120_000 });

test('convnet --epochs 1 --limit 500 prints the epoch line and a final accuracy above chance', async (t) => {
  const { stdout } = await tsx('--epochs', '1', '--limit', '500', '--batchsize', '20');
  const lines = stdout.trim().split('\n');
  t.is(lines[0], '400 training and 100 test digits, adam, batch 20, device cpu');
  t.regex(lines[1], /^epoch {2}1 {2}train loss \d+\.\d{4} {2}test loss \d+\.\d{4} {2}test accuracy \d+\.\d{2}% {2}\d+ samples\/s$/);
  const accuracy = Number(/^final test accuracy (\d+\.\d{2})%$/.exec(lines[2])?.[1]);
  // 20 steps of Adam: far from trained, but well above chance (10%)
  t.true(accuracy > 25, `accuracy ${accuracy}%`);
  t.is(lines.length, 3);
});

test('convnet rejects a device it cannot run on', async (t) => {
  const err = await t.throwsAsync(tsx('--device', 'tpu')) as Error & { code: number; stderr: string };
  t.is(err.code, 2);
  t.is(err.stderr.trim(), "train: --device must be cpu or webgpu, got 'tpu'");
});
