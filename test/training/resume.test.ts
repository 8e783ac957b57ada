// Resume: a run killed with SIGKILL mid-epoch and resumed from its last snapshot ends bitwise equal to an uninterrupted run.

import test from 'ava';
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const FIXTURE = 'test/training/fixtures/tiny-train.ts';
const run = promisify(execFile);
const tsx = (...args: string[]) => run(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { timeout: 60_000 });

test('a run killed with SIGKILL mid-epoch and resumed from its last snapshot ends with the same parameters, bit for bit', async (t) => {
  const whole = mkdtempSync(join(tmpdir(), 'kusari-whole-'));
  await tsx('--out', whole);
  const expected = readFileSync(join(whole, 'final.bin'));
  t.is(expected.length, (4 * 8 + 8 + 8 * 3 + 3) * 4);

  // the interrupted run: slowed down so that the kill lands mid-run; killed once iteration 10 is announced
  const broken = mkdtempSync(join(tmpdir(), 'kusari-broken-'));
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, '--out', broken, '--sleep', '100'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let announced = 0;
  const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    for (const m of chunk.matchAll(/iteration (\d+)/g)) announced = Number(m[1]);
    if (announced >= 10) child.kill('SIGKILL');
  });
  t.is(await exit, 'SIGKILL');
  t.false(existsSync(join(broken, 'final.bin')), 'the run did not finish');
  const snaps = readdirSync(broken).filter((f) => /^snapshot_iter_\d+$/.test(f)).map((f) => Number(f.slice('snapshot_iter_'.length)));
  const last = Math.max(...snaps);
  t.true(last >= 9 && last < 24, `last snapshot at iteration ${last}`);
  t.not(last % 8, 0, 'the snapshot is mid-epoch (8 iterations per epoch)');

  await tsx('--out', broken, '--resume', join(broken, `snapshot_iter_${last}`));
  const resumed = readFileSync(join(broken, 'final.bin'));
  t.true(resumed.equals(expected), 'final parameters differ from the uninterrupted run');

  // the log continues too: the resumed run's log equals the uninterrupted one's, apart from timings
  const strip = (dir: string) => (JSON.parse(readFileSync(join(dir, 'log'), 'utf8')) as Record<string, number>[]).map(({ elapsed_time: _, ...e }) => e);
  t.deepEqual(strip(broken), strip(whole));
});

test('resuming from a snapshot of another model fails with a message and leaves training untouched', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kusari-bad-'));
  const err = await t.throwsAsync(tsx('--out', dir, '--resume', join(dir, 'missing'))) as Error & { stderr: string };
  t.regex(err.stderr, /loadNpz: .*missing: cannot read the file/);
  t.false(existsSync(join(dir, 'final.bin')));
});
