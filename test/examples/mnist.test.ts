// examples/mnist smoke test: two short epochs on 1,000 digits train, evaluate and exit 0.

import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const tsx = (script: string, ...args: string[]) => run(process.execPath, ['--import', 'tsx', script, ...args], { timeout: 20_000 });

test('mnist --epochs 2 --limit 1000 prints a line per epoch and the final accuracy', async (t) => {
  const { stdout } = await tsx('examples/mnist/train.ts', '--epochs', '2', '--limit', '1000');
  const lines = stdout.trim().split('\n');
  t.is(lines[0], '800 training and 200 test digits, adam, batch 100, device cpu');
  for (const epoch of [1, 2]) {
    t.regex(lines[epoch], new RegExp(`^epoch {2}${epoch} {2}train loss \\d+\\.\\d{4} {2}test loss \\d+\\.\\d{4} {2}test accuracy \\d+\\.\\d{2}% {2}\\d+ samples/s$`));
  }
  t.is(lines.length, 4);
  const accuracy = Number(/^final test accuracy (\d+\.\d{2})%$/.exec(lines[3])?.[1]);
  // 16 steps on 800 digits: far from trained (about 70%), but well above chance (10%)
  t.true(accuracy > 40, `accuracy ${accuracy}% after two short epochs`);
});

test('mnist rejects a device it cannot run on, saying which devices it can', async (t) => {
  const err = await t.throwsAsync(tsx('examples/mnist/train.ts', '--device', 'tpu')) as Error & { code: number; stderr: string };
  t.is(err.code, 2);
  t.is(err.stderr.trim(), "train: --device must be cpu or webgpu, got 'tpu'");
});
