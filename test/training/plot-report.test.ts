// PlotReport and the SVG writer: the plotted points are the interval means, and the file is a well-formed SVG.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { optimizers, seed } from '../../runtime/index.js';
import { SerialIterator, StandardUpdater, Trainer, extensions as E } from '../../runtime/training/index.js';
import { ticks } from '../../runtime/training/extensions/svg-plot.js';
import { TinyClassifier, tinyDataset } from './tiny.js';

const hasPython = (() => { try { execFileSync('python3', ['-c', 'import xml.etree.ElementTree'], { stdio: 'ignore' }); return true; } catch { return false; } })();

async function train() {
  seed(0);
  const model = new TinyClassifier();
  const trainer = new Trainer(new StandardUpdater(new SerialIterator(tinyDataset(40), 10), new optimizers.Adam(0.05).setup(model)), [4, 'epoch'],
    { out: mkdtempSync(join(tmpdir(), 'kusari-plot-')) });
  trainer.extend(new E.Evaluator(new SerialIterator(tinyDataset(20, 2), 10, { repeat: false }), model));
  trainer.extend(new E.LogReport());
  trainer.extend(new E.PlotReport(['main/loss', 'validation/main/loss'], { filename: 'loss.svg' }));
  await trainer.run();
  return trainer;
}

test.serial('PlotReport plots the per-epoch means that LogReport logs, one line per key, in an SVG file', async (t) => {
  const trainer = await train();
  const log = trainer.getExtension<E.LogReport>('LogReport').log;
  const plot = trainer.getExtension<E.PlotReport>('PlotReport');
  for (const key of ['main/loss', 'validation/main/loss']) {
    t.deepEqual(plot.points[key].map(([x]) => x), [1, 2, 3, 4]);
    plot.points[key].forEach(([, y], i) => t.true(Math.abs(y - log[i][key]) < 1e-12, `${key} at epoch ${i + 1}`));
  }
  const svg = readFileSync(join(trainer.out, 'loss.svg'), 'utf8');
  t.true(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => m[1].split(' ').map((p) => p.split(',').map(Number)));
  t.is(lines.length, 2);
  // screen y grows downwards: a falling loss is a rising y coordinate
  const ys = lines[0].map(([, y]) => y), losses = plot.points['main/loss'].map(([, y]) => y);
  for (let i = 1; i < 4; i++) t.is(Math.sign(ys[i] - ys[i - 1]), -Math.sign(losses[i] - losses[i - 1]));
  t.true(svg.includes('>main/loss</text>') && svg.includes('>validation/main/loss</text>'), 'a legend names both keys');
  // the PNG comes only from the optional renderer, which kusari does not depend on
  const hasResvg = await import(['@resvg', 'resvg-js'].join('/')).then(() => true, () => false);
  t.is(existsSync(join(trainer.out, 'loss.png')), hasResvg);
  if (hasPython) {
    const tags = execFileSync('python3', ['-c', 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); print(r.tag, len(r))', join(trainer.out, 'loss.svg')], { encoding: 'utf8' });
    t.regex(tags, /^\{http:\/\/www\.w3\.org\/2000\/svg\}svg \d+/, 'an XML parser reads the file');
  }
});

test.serial('PlotReport wants an .svg file name and at least one key', (t) => {
  t.throws(() => new E.PlotReport(['main/loss'], { filename: 'loss.png' }), {
    message: "PlotReport: filename must end in .svg, got 'loss.png' (a PNG is written beside it when @resvg/resvg-js is installed)",
  });
  t.throws(() => new E.PlotReport([]), { message: 'PlotReport: expected at least one key to plot' });
});

test.serial('the SVG writer leaves non-finite values out and escapes text', (t) => {
  const svg = E.renderPlot([{ name: 'a<b', points: [[1, 1], [2, Number.NaN], [3, 2]] }], { title: 'x & y' });
  t.is([...svg.matchAll(/<circle /g)].length, 2);
  t.true(svg.includes('>a&lt;b</text>') && svg.includes('>x &amp; y</text>'));
  t.false(svg.includes('NaN'));
});

test.serial('ticks are round numbers covering the range, integers for epochs', (t) => {
  t.deepEqual(ticks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  t.deepEqual(ticks(1.3, 2.05), [1.4, 1.6, 1.8, 2]);
  t.deepEqual(ticks(1, 3, 6, true), [1, 2, 3]);
  t.deepEqual(ticks(5, 5), [5]);
});
