// examples/control-flow: forward(x, t, train) gives a loss with dropout in train mode, accuracy and probabilities without any dropout node in test mode.

import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { FunctionNode, NDArray, Variable, config, seed } from '../../runtime/index.js';
import { Net, forward } from '../../examples/control-flow/model.js';
import { uniform } from '../helpers.js';

const run = promisify(execFile);

/** Every FunctionNode in the graph behind `y`. */
function nodes(y: Variable): FunctionNode[] {
  const out: FunctionNode[] = [], seen = new Set<FunctionNode>();
  const stack = y.creator ? [y.creator] : [];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    out.push(f);
    for (const x of f.inputs) if (x.creator) stack.push(x.creator);
  }
  return out;
}

/**
 * Whether `f` is dropout: a node labelled so, or (dropout being x * mask, composed) a mul by
 * a constant, graph-less mask whose entries are all 0 or 1 / (1 - ratio) with ratio 0.5.
 */
function isDropout(f: FunctionNode): boolean {
  if (f.label === 'dropout') return true;
  if (f.label !== 'mul' || f.inputs.length !== 2) return false;
  return f.inputs.some((m) => m.creator === null && !m.requiresGrad && m.size > 1 && Array.from(m.data.toFlat()).every((v) => v === 0 || v === 2));
}

const batch = () => {
  const x = new NDArray(new Float32Array(uniform([8, 784], 1, 0, 1).toFlat()), [8, 784]);
  return [x, new NDArray(Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), [8])] as const;
};

test('control-flow: train mode returns a loss whose graph has the dropout node; test mode returns accuracy and probabilities whose graph has none', (t) => {
  seed(0);
  const model = new Net();
  const [x, lab] = batch();
  const loss = forward(model, x, lab, true);
  t.deepEqual(loss.shape, []);
  t.is(nodes(loss).filter(isDropout).length, 1, 'the detector finds the dropout of train mode');
  const { accuracy, prob } = forward(model, x, lab, false);
  t.is(accuracy.creator, null);
  t.deepEqual(prob.shape, [8, 10]);
  const testNodes = nodes(prob);
  t.true(testNodes.length > 3, 'the test-mode probabilities do have a graph (linear, batch norm, relu, softmax)');
  t.deepEqual(testNodes.filter(isDropout).map((f) => f.label), []);
  t.true(config.train, 'forward restores config.train afterwards');
  const rows = Array.from(prob.data.toFlat());
  for (let i = 0; i < 8; i++) t.true(Math.abs(rows.slice(i * 10, i * 10 + 10).reduce((a, b) => a + b, 0) - 1) < 1e-5);
});

test('control-flow: test mode is deterministic and leaves the batch-norm statistics alone; train mode moves them', (t) => {
  const model = new Net();
  const [x, lab] = batch();
  const before = Array.from(model.bn1.avgMean.toFlat());
  const a = forward(model, x, lab, false).prob.data.toFlat(), b = forward(model, x, lab, false).prob.data.toFlat();
  t.deepEqual(Array.from(a), Array.from(b));
  t.deepEqual(Array.from(model.bn1.avgMean.toFlat()), before);
  forward(model, x, lab, true);
  t.notDeepEqual(Array.from(model.bn1.avgMean.toFlat()), before);
});

test('control-flow: the example prints the loss in train mode and the accuracy in test mode each epoch', async (t) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/control-flow/main.ts', '--epochs', '2', '--limit', '1000'], { timeout: 60_000 });
  const lines = stdout.trim().split('\n');
  t.is(lines.length, 4);
  for (const epoch of [1, 2]) {
    t.regex(lines[2 * epoch - 2], new RegExp(`^epoch ${epoch}  train mode: loss \\d+\\.\\d{4}$`));
    t.regex(lines[2 * epoch - 1], new RegExp(`^epoch ${epoch}  test mode: accuracy \\d+\\.\\d{2}%  mean top probability 0\\.\\d{3}  \\(200 digits\\)$`));
  }
  const accuracy = Number(/accuracy (\d+\.\d{2})%/.exec(lines[3])?.[1]);
  t.true(accuracy > 50, `accuracy ${accuracy}% after two short epochs`);
});
