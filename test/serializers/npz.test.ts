// saveNpz / loadNpz: round trips of links and optimizers on both devices, Chainer's keys, checked failures.

import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { array, F, L, NDArray, optimizers, Variable, type Device } from '../../runtime/index.js';
import { loadNpz, loadNpzBytes, saveNpz, saveNpzBytes, writeFileAtomic } from '../../runtime/serializers/index.js';
import { readZipDirectory } from '../../runtime/serializers/zip.js';
import { uniform, useDevices } from '../helpers.js';
import { PAD_BYTES, writeBigArchive } from './big-archive.js';

const devices = await useDevices(test);
const dir = mkdtempSync(join(tmpdir(), 'kusari-npz-'));

class MLP extends L.Chain {
  l1 = new L.Linear(null, 5);
  l2 = new L.Linear(5, 3);
  forward(x: Variable): Variable { return this.l2.forward(F.relu(this.l1.forward(x))); }
}
class Classifier extends L.Chain {
  constructor(public predictor: MLP) { super(); }
}
class WithList extends L.Chain {
  layers = new L.ChainList(new L.Linear(2, 2), new L.Linear(2, 1, { nobias: true }));
  constructor() {
    super();
    this.addPersistent('count', 7);
    this.addPersistent('mean', array([0.5, -1], [2]));
  }
}

const x = () => new NDArray(new Float32Array(uniform([4, 6], 11).toFlat()), [4, 6]);
const lossOf = (m: MLP, xs: NDArray) => F.sum(F.mul(m.forward(new Variable(xs)), m.forward(new Variable(xs))));

async function values(link: L.Link): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, p] of link.namedParams()) out[k] = Array.from(await p.data.data());
  return out;
}

devices.each('saveNpz/loadNpz: a trained MLP and its Adam state round-trip; both go on to the same next step', async (t, device: Device) => {
  const model = new MLP(), opt = new optimizers.Adam(0.01).setup(model);
  const xs = x().to(device);
  if (device === 'webgpu') model.toGpu();
  for (let i = 0; i < 3; i++) opt.update(() => lossOf(model, xs));
  opt.newEpoch();
  const mPath = join(dir, `mlp-${device}.npz`), oPath = join(dir, `adam-${device}.npz`);
  await saveNpz(mPath, model);
  await saveNpz(oPath, opt);

  const model2 = new MLP(), opt2 = new optimizers.Adam(0.01).setup(model2);
  if (device === 'webgpu') model2.toGpu();
  t.false(model2.l1.W.isInitialized);
  await loadNpz(mPath, model2);
  await loadNpz(oPath, opt2);
  t.true(model2.l1.W.isInitialized, 'a deferred parameter takes the stored shape');
  t.is(model2.l1.W.data.device, device);
  t.deepEqual(await values(model2), await values(model));
  t.is(opt2.t, 3);
  t.is(opt2.epoch, 1);

  opt.update(() => lossOf(model, xs));
  opt2.update(() => lossOf(model2, xs));
  t.deepEqual(await values(model2), await values(model), 'the loaded moments drive the same fourth step');
});

test('saveNpz: Chainer\'s key names for a nested model, a ChainList, persistents and an optimizer', async (t) => {
  const clf = new Classifier(new MLP());
  clf.predictor.forward(new Variable(x()));
  const names = (b: Uint8Array) => readZipDirectory(b, 'test').map((e) => e.name).sort();
  t.deepEqual(names(await saveNpzBytes(clf)), ['predictor/l1/W.npy', 'predictor/l1/b.npy', 'predictor/l2/W.npy', 'predictor/l2/b.npy']);
  t.deepEqual(names(await saveNpzBytes(new WithList())), ['count.npy', 'layers/0/W.npy', 'layers/0/b.npy', 'layers/1/W.npy', 'mean.npy']);
  const opt = new optimizers.Adam().setup(clf);
  t.deepEqual(names(await saveNpzBytes(opt)), [
    'epoch.npy',
    ...['l1/W', 'l1/b', 'l2/W', 'l2/b'].flatMap((p) => ['m', 't', 'v'].map((k) => `predictor/${p}/${k}.npy`)),
    't.npy',
  ]);
});

test('loadNpz: persistents (an array and a number) and a ChainList load back', async (t) => {
  const a = new WithList();
  (a as unknown as { count: number }).count = 42;
  a.addPersistent('mean', array([3, 4], [2]));
  const b = new WithList();
  loadNpzBytes(await saveNpzBytes(a), b);
  t.is((b as unknown as { count: number }).count, 42);
  t.deepEqual(Array.from((b as unknown as { mean: NDArray }).mean.toFlat()), [3, 4]);
  t.deepEqual(await values(b), await values(a));
});

test('loadNpz: a wrong shape is an error naming the file, the key and both shapes; the target is unchanged', async (t) => {
  const big = new L.Linear(4, 3), small = new L.Linear(2, 3);
  const path = join(dir, 'small.npz');
  await saveNpz(path, small);
  const before = await values(big);
  const err = await t.throwsAsync(loadNpz(path, big));
  t.is(err?.message, `loadNpz: ${path}: key 'W' has shape (3, 2), expected (3, 4)`);
  t.deepEqual(await values(big), before);
});

test('loadNpz: a missing key is an error under strict (default) and skipped with strict: false', async (t) => {
  const path = join(dir, 'nobias.npz');
  await saveNpz(path, new L.Linear(2, 3, { nobias: true }));
  const target = new L.Linear(2, 3);
  const before = await values(target);
  const err = await t.throwsAsync(loadNpz(path, target));
  t.is(err?.message, `loadNpz: ${path}: key 'b' is missing`);
  t.deepEqual(await values(target), before, 'W was valid, yet nothing was assigned');
  await loadNpz(path, target, { strict: false });
  const saved = new L.Linear(2, 3);
  await loadNpz(path, saved, { strict: false });
  t.deepEqual((await values(target))['/W'], (await values(saved))['/W']);
  t.deepEqual((await values(target))['/b'], before['/b']);
});

test('loadNpz: path= reads a sub-tree (a model out of a bigger file)', async (t) => {
  const clf = new Classifier(new MLP());
  clf.predictor.forward(new Variable(x()));
  const bytes = await saveNpzBytes(clf);
  const mlp = new MLP();
  loadNpzBytes(bytes, mlp, { path: 'predictor/' });
  t.deepEqual(await values(mlp), await values(clf.predictor));
});

test('loadNpz: dtypes: float64 in the file loads into float32 (as Chainer copies); float into int32 is an error', async (t) => {
  class P extends L.Link { w = new L.Parameter(array([1.5, 2.25], [2], 'float64')); }
  class Q extends L.Link { w = new L.Parameter(array([0, 0], [2], 'float32')); }
  class I extends L.Link { constructor() { super(); this.addPersistent('w', array([0, 0], [2], 'int32')); } }
  const bytes = await saveNpzBytes(new P());
  const q = new Q();
  loadNpzBytes(bytes, q);
  t.is(q.w.dtype, 'float32');
  t.deepEqual(Array.from(q.w.data.toFlat()), [1.5, 2.25]);
  const err = t.throws(() => loadNpzBytes(bytes, new I(), { name: 'p.npz' }));
  t.is(err?.message, "loadNpz: p.npz: key 'w' has dtype '<f8', expected int32 (floats do not load into integer arrays)");
});

test('saveNpz: compression and forced zip64 fields round-trip', async (t) => {
  const m = new L.Linear(3, 2);
  for (const opts of [{ compression: true }, { zip64Limit: 0 }, { compression: true, zip64Limit: 0 }]) {
    const n = new L.Linear(3, 2);
    loadNpzBytes(await saveNpzBytes(m, opts), n);
    t.deepEqual(await values(n), await values(m), JSON.stringify(opts));
  }
});

test('saveNpz: equal state gives byte-identical files', async (t) => {
  const m = new L.Linear(3, 2);
  t.deepEqual(await saveNpzBytes(m), await saveNpzBytes(m));
});

test('saveNpz: saving an uninitialised deferred parameter skips it; loading the file back needs strict: false', async (t) => {
  const m = new MLP();
  const bytes = await saveNpzBytes(m);
  t.deepEqual(readZipDirectory(bytes, 'x').map((e) => e.name), ['l1/b.npy', 'l2/W.npy', 'l2/b.npy']);
  const err = t.throws(() => loadNpzBytes(bytes, new MLP(), { name: 'm.npz' }));
  t.is(err?.message, "loadNpz: m.npz: key 'l1/W' is missing");
});

test('writeFileAtomic: a write that throws leaves the old file and no temporary file', async (t) => {
  const sub = mkdtempSync(join(dir, 'atomic-'));
  const path = join(sub, 'f.bin');
  writeFileSync(path, 'old');
  await t.throwsAsync(writeFileAtomic(path, async (put) => {
    await put(new Uint8Array(1000));
    throw new Error('disk full');
  }), { message: 'disk full' });
  t.is(readFileSync(path, 'utf8'), 'old');
  t.deepEqual(readdirSync(sub), ['f.bin']);
  await writeFileAtomic(path, async (put) => put(new TextEncoder().encode('new')));
  t.is(readFileSync(path, 'utf8'), 'new');
  t.deepEqual(readdirSync(sub), ['f.bin']);
  t.true(existsSync(path));
});

test('loadNpz: an unreadable file is an error naming it', async (t) => {
  const path = join(dir, 'does-not-exist.npz');
  const err = await t.throwsAsync(loadNpz(path, new L.Linear(2, 2)));
  t.regex(err!.message, new RegExp(`^loadNpz: ${path}: cannot read the file: ENOENT`));
});

test('loadNpz: an archive past 4 GiB (zip64 offsets) loads, reading only the directory and the members asked for', async (t) => {
  const path = join(dir, 'big.npz');
  const src = new L.Linear(3, 2);
  await writeBigArchive(path, src);
  try {
    t.true(statSync(path).size > PAD_BYTES);
    t.true(statSync(path).blocks * 512 < 2 ** 20, 'the zeros are a hole in a sparse file');
    const before = process.memoryUsage().arrayBuffers;
    const dst = new L.Linear(3, 2);
    await loadNpz(path, dst);
    t.deepEqual(await values(dst), await values(src));
    t.true(process.memoryUsage().arrayBuffers - before < 2 ** 20, 'the 4.5 GiB member was not read');
  } finally {
    rmSync(path);
  }
});
