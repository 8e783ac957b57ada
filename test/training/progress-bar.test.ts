// ProgressBar: redrawn in place on a terminal (run under a pty with `script`), plain lines into a pipe.

import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { optimizers, seed } from '../../runtime/index.js';
import { SerialIterator, StandardUpdater, Trainer, extensions as E } from '../../runtime/training/index.js';
import { TinyClassifier, tinyDataset } from './tiny.js';

const run = promisify(execFile);
const FIXTURE = 'test/training/fixtures/tiny-train.ts';
const hasScript = (() => { try { execFileSync('script', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
// 3 epochs of 8 iterations, a draw every 2 iterations: 12 draws
const BAR = /^epoch [123]\/3 \[[#.]{30}\] +\d+\.\d{2}% iter \d+\/(24|\?) {2}(-|\d+\.\d) it\/s {2}ETA (-|\d+:\d{2}:\d{2})$/;

test.serial('piped, the progress bar writes one plain line per update interval, with no control characters', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'kusari-bar-'));
  const { stdout } = await run(process.execPath, ['--import', 'tsx', FIXTURE, '--out', out, '--progress'], { timeout: 60_000 });
  t.log(`\n${stdout}`);
  t.false(/[\r\x1b]/.test(stdout), 'no carriage returns or escape sequences in a pipe');
  const lines = stdout.trimEnd().split('\n');
  t.is(lines.length, 12);
  for (const line of lines) t.regex(line, BAR);
  t.deepEqual(lines.map((l) => Number(/iter (\d+)/.exec(l)![1])), [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]);
  t.regex(lines[11], /^epoch 3\/3 \[#{30}\] 100\.00% iter 24\/24 /);
});

(hasScript ? test : test.skip)('on a terminal (a pty from `script`), the bar is redrawn in place on one line', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'kusari-bar-'));
  const cmd = `${process.execPath} --import tsx ${FIXTURE} --out ${out} --progress`;
  const { stdout } = await run('script', ['-qfec', cmd, '/dev/null'], { timeout: 60_000 });
  t.log(`\n${JSON.stringify(stdout)}`);
  // the pty turns \n into \r\n; the bar itself writes \r, its text and "erase to end of line"
  const draws = stdout.split('\r').filter((s) => s.endsWith('\x1b[K')).map((s) => s.slice(0, -3));
  t.is(draws.length, 12);
  for (const d of draws) t.regex(d, BAR);
  t.is(stdout.replace(/\r\n/g, '\n').split('\n').length - 1, 1, 'one line in all: the bar ends with a single newline');
  t.regex(draws[11], /100\.00% iter 24\/24/);
});

test.serial('ProgressBar reads the length from the stop trigger, or asks for it', async (t) => {
  seed(0);
  const model = new TinyClassifier();
  const make = (stop: ConstructorParameters<typeof Trainer>[1]) =>
    new Trainer(new StandardUpdater(new SerialIterator(tinyDataset(20), 10), new optimizers.SGD().setup(model)), stop, { out: mkdtempSync(join(tmpdir(), 'kusari-bar-')) });
  const text = { s: '', write(x: string) { this.s += x; } };
  const byIteration = make([6, 'iteration']);
  byIteration.extend(new E.ProgressBar({ out: text, updateInterval: 3 }));
  await byIteration.run();
  t.deepEqual(text.s.trimEnd().split('\n').map((l) => /\d+\.\d\d% iter \d+\/\d+/.exec(l)![0]), ['50.00% iter 3/6', '100.00% iter 6/6']);
  const custom = make(() => false);
  custom.extend(new E.ProgressBar({ out: text }));
  await t.throwsAsync(custom.run(), { message: "ProgressBar: the stop trigger does not say how long training is; give trainingLength: [n, 'epoch' | 'iteration']" });
  t.throws(() => new E.ProgressBar({ updateInterval: 0 }), { message: 'ProgressBar: updateInterval must be a positive integer, got 0' });
});
