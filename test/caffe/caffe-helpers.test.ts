// The caffe test helpers: a missing reference folder is skipped outside CI and fails under CI; the .npy reader.

import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { readNpy, sharedFolder } from './caffe-helpers.js';

/** A stand-in for ava's test that records what would be declared. */
function recorder() {
  const declared: { title: string; skipped: boolean; impl: (t: ExecutionContext) => void | Promise<void> }[] = [];
  const declare = Object.assign(
    (title: string, impl: (t: ExecutionContext) => void | Promise<void>) => { declared.push({ title, skipped: false, impl }); },
    { skip: (title: string, impl: (t: ExecutionContext) => void) => { declared.push({ title, skipped: true, impl }); } },
  );
  return { declare, declared };
}

test('caffe helpers: a missing folder is a skipped test with the reason outside CI, a failing one under CI', async (t) => {
  const outside = recorder();
  t.is(sharedFolder(outside.declare, 'nope', {}, '/nonexistent/'), null);
  t.deepEqual(outside.declared.map((d) => [d.title, d.skipped]), [
    ['caffe fixtures: nope (skipped: the reference folder /nonexistent/nope is missing (it is ../shared/caffe/nope from the repository root))', true],
  ]);
  const ci = recorder();
  t.is(sharedFolder(ci.declare, 'nope', { CI: 'true' }, '/nonexistent/'), null);
  t.is(ci.declared.length, 1);
  t.false(ci.declared[0].skipped);
  let failed = '';
  await ci.declared[0].impl({ fail: (m: string) => { failed = m; } } as unknown as ExecutionContext);
  t.is(failed, 'the reference folder /nonexistent/nope is missing (it is ../shared/caffe/nope from the repository root); CI requires it');
  const present = recorder(), root = `${mkdtempSync(join(tmpdir(), 'caffe-'))}/`;
  mkdirSync(`${root}here`);
  t.is(sharedFolder(present.declare, 'here', { CI: 'true' }, root), `${root}here`);
  t.is(present.declared.length, 0);
});

const caffe1 = sharedFolder(test, 'caffe1_layers');
if (caffe1 !== null) {
  test('caffe helpers: readNpy reads numpy\'s float32 fixtures', (t) => {
    const x = readNpy(`${caffe1}/split.input.npy`);
    t.deepEqual(x.shape, [2, 3, 4, 4]);
    t.is(x.dtype, 'float32');
    // split's outputs equal its input, byte for byte
    t.deepEqual(Array.from(readNpy(`${caffe1}/split.output_split_a.npy`).toFlat()), Array.from(x.toFlat()));
  });
}
