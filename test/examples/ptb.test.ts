// examples/ptb: the corpus preparation (tags stripped, lower-cased, split by file, 10,000 words) and a tiny training run.

import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { L, serializers } from '../../runtime/index.js';
import { VOCAB_SIZE, loadCorpus, splitOf, tokenize } from '../../examples/ptb/data.js';

const run = promisify(execFile);

test('ptb data: tags after the last slash are dropped, words lower-cased, each sentence line ends with <eos>', (t) => {
  const text = "\n\n\tThe/at Jury/nn-tl said/vbd 1/2/cd ./.\n\n\n\t``/`` Yes/rb ''/''\n   \n";
  t.deepEqual(tokenize(text), ['the', 'jury', 'said', '1/2', '.', '<eos>', '``', 'yes', "''", '<eos>']);
});

test('ptb data: files split 8 : 1 : 1 by position, every genre in every split', (t) => {
  t.deepEqual(Array.from({ length: 10 }, (_, i) => splitOf(i)), ['train', 'train', 'train', 'train', 'train', 'train', 'train', 'train', 'valid', 'test']);
  const c = loadCorpus();
  t.deepEqual(c.files, { train: 400, valid: 50, test: 50 });
  t.is(c.words.length, VOCAB_SIZE);
  t.is(c.words[VOCAB_SIZE - 1], '<unk>');
  t.true(c.words.includes('<eos>'));
  t.is(c.words[0], 'the', 'the most frequent word comes first');
  for (const split of [c.train, c.valid, c.test]) t.true(split.every((id) => id >= 0 && id < VOCAB_SIZE));
  // about 1.16M tokens in all, most of them in training
  const total = c.train.length + c.valid.length + c.test.length;
  t.true(total > 1.1e6 && total < 1.3e6, `${total} tokens`);
  t.true(c.train.length > 0.75 * total);
  // words seen only in validation or test are <unk>, never a training word's id
  const unkShare = c.test.filter((id) => id === VOCAB_SIZE - 1).length / c.test.length;
  t.true(unkShare > 0.02 && unkShare < 0.2, `test <unk> share ${unkShare}`);
});

test('ptb: a tiny run prints train and validation perplexity per epoch and the test perplexity', async (t) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/ptb/train.ts', '--epochs', '2', '--train-tokens', '300', '--eval-tokens', '200', '--units', '8', '--bptt', '5', '--batchsize', '10'], { timeout: 240_000 });
  const lines = stdout.trim().split('\n');
  t.regex(lines[0], /^Brown Corpus: \d+ \/ \d+ \/ \d+ tokens in 400 \/ 50 \/ 50 files, vocabulary 10000 \(\d+ ms\)$/);
  t.is(lines[1], 'using 300 training and 200 / 200 validation / test tokens; units 8, batch 10, bptt 5, device cpu');
  const perplexities = [2, 3].map((i) => {
    const m = new RegExp(`^epoch ${i - 1}  train perplexity (\\d+\\.\\d{2})  validation perplexity (\\d+\\.\\d{2})  \\d+\\.\\d s/epoch  \\d+ tokens/s$`).exec(lines[i]);
    t.truthy(m, lines[i]);
    return Number(m![2]);
  });
  const test_ = Number(/^test perplexity (\d+\.\d{2})$/.exec(lines[4])?.[1]);
  // from ~10,000 (uniform over the vocabulary) the perplexities must fall, even after two tiny epochs
  for (const p of [...perplexities, test_]) t.true(p > 1 && p < 10_000, `perplexity ${p}`);
  t.is(lines.length, 5);
});

test('ptb: --trace prints per update the gradient norm and the scale the update applied, which is Chainer\'s min(1, threshold / norm); --save-init writes the weights reference.py --init reads', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ptb-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const init = join(dir, 'init.npz');
  // a low threshold, so that some updates are clipped and some (maybe) not
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/ptb/train.ts', '--train-tokens', '400', '--eval-tokens', '100', '--units', '8', '--bptt', '5', '--batchsize', '4', '--dropout', '0', '--gradclip', '0.5', '--trace', '4', '--save-init', init], { timeout: 240_000 });
  const lines = stdout.trim().split('\n').slice(2);
  t.is(lines.length, 5, stdout);
  let clipped = 0;
  for (const [i, line] of lines.slice(0, 4).entries()) {
    const m = /^update (\d+)  loss (\d+\.\d{6})  grad norm (\d+\.\d{6})  scale (\d+\.\d{6})$/.exec(line);
    t.truthy(m, line);
    t.is(Number(m![1]), i + 1);
    const norm = Number(m![3]), scale = Number(m![4]);
    t.true(norm > 0, line);
    t.true(Math.abs(scale - Math.min(1, 0.5 / norm)) < 1e-4 * Math.max(1, scale), `${line}: expected scale ${Math.min(1, 0.5 / norm)}`);
    if (norm > 0.5) clipped++;
  }
  t.true(clipped > 0, 'no update was clipped: the check above tested SGD alone');
  t.regex(lines[4], /^validation perplexity \d+\.\d{4}$/);
  // the file holds the six arrays reference.py maps by name, embed/W ... out/b (strict load: no key missing or extra)
  const model = new (class extends L.Chain {
    embed = new L.EmbedID(10_000, 8);
    rnn = new L.LSTM(8, 8);
    out = new L.Linear(8, 10_000);
  })();
  await serializers.loadNpz(init, model);
  t.deepEqual([...model.namedParams()].map(([k, p]) => [k, p.shape]), [
    ['/embed/W', [10_000, 8]], ['/rnn/upward/W', [32, 8]], ['/rnn/upward/b', [32]], ['/rnn/lateral/W', [32, 8]], ['/out/W', [10_000, 8]], ['/out/b', [10_000]],
  ]);
  // drawn from U(-0.1, 0.1), every one of them (the LSTM's forget bias of 1 overwritten, as in Chainer's example)
  for (const [k, p] of model.namedParams()) t.true((await p.data.data()).every((v) => v >= -0.1 && v < 0.1), k);
});

test('ptb: bad flags end with a message saying what was expected', async (t) => {
  const err = await t.throwsAsync(run(process.execPath, ['--import', 'tsx', 'examples/ptb/train.ts', '--dropout', '1'])) as Error & { code: number; stderr: string };
  t.is(err.code, 2);
  t.is(err.stderr.trim(), "train: --dropout must be in [0, 1), got '1'");
  const err2 = await t.throwsAsync(run(process.execPath, ['--import', 'tsx', 'examples/ptb/train.ts', '--dtype', 'float16'])) as Error & { code: number; stderr: string };
  t.is(err2.code, 2);
  t.is(err2.stderr.trim(), "train: --dtype must be float32 or float64, got 'float16'");
});
