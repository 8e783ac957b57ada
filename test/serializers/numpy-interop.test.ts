// numpy interop: numpy reads kusari's .npz/.npy, and kusari loads what numpy's savez / save write with Chainer's keys.

import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { array, F, L, NDArray, optimizers, Variable } from '../../runtime/index.js';
import { loadNpy, loadNpz, saveNpy, saveNpz } from '../../runtime/serializers/index.js';
import { uniform } from '../helpers.js';
import { writeBigArchive } from './big-archive.js';

const CI = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI.toLowerCase());
const probe = spawnSync('python3', ['-c', 'import numpy; print(numpy.__version__)'], { encoding: 'utf8' });
const numpyVersion = probe.status === 0 ? probe.stdout.trim() : null;
const why = probe.error ? `python3 is missing (${probe.error.message})` : `numpy is missing (${(probe.stderr ?? '').trim().split('\n').pop()})`;

/** A test that needs numpy: skipped with the reason when it is missing, failed when CI is set. */
function numpyTest(title: string, impl: (t: ExecutionContext) => Promise<void>): void {
  if (numpyVersion !== null) test(`${title} (numpy ${numpyVersion})`, impl);
  else if (CI) test(title, (t) => t.fail(`CI is set and ${why}: install python3-numpy`));
  else test.skip(`${title} (skipped: ${why})`, () => {});
}

function python(script: string, ...args: string[]): unknown {
  return JSON.parse(execFileSync('python3', ['-c', script, ...args], { encoding: 'utf8' }));
}

const dir = mkdtempSync(join(tmpdir(), 'kusari-numpy-'));

class MLP extends L.Chain {
  l1 = new L.Linear(6, 5);
  l2 = new L.Linear(5, 3);
  forward(x: Variable): Variable { return this.l2.forward(F.relu(this.l1.forward(x))); }
}
class Classifier extends L.Chain {
  predictor = new MLP();
}

const READ_NPZ = `
import json, sys, numpy as np
with np.load(sys.argv[1]) as z:
    print(json.dumps({k: {'dtype': z[k].dtype.str, 'shape': list(z[k].shape), 'values': z[k].ravel().tolist()} for k in z.files}))
`;

type Seen = Record<string, { dtype: string; shape: number[]; values: number[] }>;

async function trained(): Promise<{ model: Classifier; opt: optimizers.Adam }> {
  const model = new Classifier(), opt = new optimizers.Adam(0.01).setup(model);
  const xs = new Variable(new NDArray(new Float32Array(uniform([4, 6], 3).toFlat()), [4, 6]));
  for (let i = 0; i < 2; i++) opt.update(() => F.sum(F.mul(model.predictor.forward(xs), model.predictor.forward(xs))));
  return { model, opt };
}

numpyTest('numpy.load reads a model and an optimizer saved by kusari: Chainer\'s keys, shapes, dtypes, values', async (t) => {
  const { model, opt } = await trained();
  for (const opts of [{}, { compression: true }, { zip64Limit: 0 }]) {
    const mPath = join(dir, 'model.npz'), oPath = join(dir, 'opt.npz');
    await saveNpz(mPath, model, opts);
    await saveNpz(oPath, opt, opts);
    const seen = python(READ_NPZ, mPath) as Seen;
    t.deepEqual(Object.keys(seen).sort(), ['predictor/l1/W', 'predictor/l1/b', 'predictor/l2/W', 'predictor/l2/b'], JSON.stringify(opts));
    for (const [path, p] of model.namedParams()) {
      const s = seen[`predictor${path.slice('/predictor'.length)}`];
      t.is(s.dtype, '<f4');
      t.deepEqual(s.shape, p.shape);
      t.deepEqual(s.values, Array.from(p.data.toFlat()));
    }
    const so = python(READ_NPZ, oPath) as Seen;
    t.deepEqual(so.t, { dtype: '<f8', shape: [], values: [2] } as unknown as Seen[string]);
    t.deepEqual(so.epoch.values, [0]);
    t.deepEqual(so['predictor/l1/W/m'].shape, [5, 6]);
    t.deepEqual(so['predictor/l2/b/v'].shape, [3]);
    t.is(Object.keys(so).length, 2 + 4 * 3);
  }
});

const WRITE_NPZ = `
import json, sys, numpy as np
rng = np.random.default_rng(7)
arrays = {
  'predictor/l1/W': rng.standard_normal((5, 6)).astype(np.float32),
  'predictor/l1/b': rng.standard_normal(5),                          # float64: loads into float32 as Chainer copies
  'predictor/l2/W': np.asfortranarray(rng.standard_normal((3, 5)).astype(np.float32)),  # fortran_order True
  'predictor/l2/b': rng.standard_normal(3).astype(np.float32),
}
getattr(np, sys.argv[2])(sys.argv[1], **arrays)
print(json.dumps({k: np.ascontiguousarray(v).astype(np.float32).ravel().tolist() for k, v in arrays.items()}))
`;

numpyTest('loadNpz: a file numpy.savez / savez_compressed wrote with Chainer\'s keys loads into a kusari model with equal values', async (t) => {
  for (const fn of ['savez', 'savez_compressed']) {
    const path = join(dir, `${fn}.npz`);
    const want = python(WRITE_NPZ, path, fn) as Record<string, number[]>;
    const model = new Classifier();
    await loadNpz(path, model);
    for (const [path2, p] of model.namedParams()) {
      t.deepEqual(Array.from(p.data.toFlat()), want[`predictor${path2.slice('/predictor'.length)}`], `${fn} ${path2}`);
      t.is(p.dtype, 'float32');
    }
  }
});

numpyTest('loadNpz: an Adam state laid out as Chainer saves it (int64 t and epoch, per-parameter t, m, v) loads', async (t) => {
  const path = join(dir, 'chainer-adam.npz');
  python(`
import json, sys, numpy as np
shapes = {'l1/W': (5, 6), 'l1/b': (5,), 'l2/W': (3, 5), 'l2/b': (3,)}
d = {'t': np.asarray(12), 'epoch': np.asarray(3)}
for k, s in shapes.items():
    d['predictor/' + k + '/t'] = np.asarray(12)
    d['predictor/' + k + '/m'] = np.full(s, 0.5, np.float32)
    d['predictor/' + k + '/v'] = np.full(s, 0.25, np.float32)
np.savez(sys.argv[1], **d)
print(json.dumps(str(d['t'].dtype)))
`, path);
  const model = new Classifier();
  const opt = new optimizers.Adam().setup(model);
  await loadNpz(path, opt);
  t.is(opt.t, 12);
  t.is(opt.epoch, 3);
  // the loaded moments are the ones the next update uses: with g = 0, W moves by -alpha_t m' / (sqrt(v') + eps)
  const W0 = Array.from(model.predictor.l1.W.data.toFlat());
  for (const p of model.params()) p.grad = new NDArray(new Float32Array(p.size), p.shape.slice());
  opt.update();
  const m = 0.5 * 0.9, v = 0.25 * 0.999;
  const alphaT = (0.001 * Math.sqrt(1 - 0.999 ** 13)) / (1 - 0.9 ** 13);
  const W1 = Array.from(model.predictor.l1.W.data.toFlat());
  W1.forEach((w, i) => t.true(Math.abs(w - (W0[i] - (alphaT * m) / (Math.sqrt(v) + 1e-8))) < 1e-6));
});

numpyTest('saveNpy / loadNpy: numpy.load reads kusari\'s .npy and kusari reads numpy.save\'s (C and Fortran order)', async (t) => {
  const path = join(dir, 'x.npy');
  await saveNpy(path, array([[1.5, -2], [3, 4.25], [5, 6]], [3, 2], 'float64'));
  t.deepEqual(python('import json, sys, numpy as np; a = np.load(sys.argv[1]); print(json.dumps([a.dtype.str, list(a.shape), a.tolist()]))', path),
    ['<f8', [3, 2], [[1.5, -2], [3, 4.25], [5, 6]]]);
  const p2 = join(dir, 'y.npy'), p3 = join(dir, 'z.npy');
  python(`import json, sys, numpy as np
a = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
np.save(sys.argv[1], a); np.save(sys.argv[2], np.asfortranarray(a.astype(np.float32)))
print('0')`, p2, p3);
  const y = await loadNpy(p2), z = await loadNpy(p3);
  t.is(y.dtype, 'int32');
  t.deepEqual(y.shape, [2, 3, 4]);
  t.deepEqual(Array.from(y.toFlat()), Array.from({ length: 24 }, (_, i) => i));
  t.is(z.dtype, 'float32');
  t.deepEqual(Array.from(z.toFlat()), Array.from({ length: 24 }, (_, i) => i));
});

numpyTest('numpy.load reads members past 4 GiB in a kusari archive (zip64 offsets)', async (t) => {
  const path = join(dir, 'big.npz');
  const src = new L.Linear(3, 2);
  await writeBigArchive(path, src);
  try {
    const seen = python(`
import json, sys, numpy as np
with np.load(sys.argv[1]) as z:
    print(json.dumps({k: z[k].ravel().tolist() for k in ('W', 'b')}))
`, path) as Record<string, number[]>;
    t.deepEqual(seen.W, Array.from(src.W.data.toFlat()));
    t.deepEqual(seen.b, Array.from(src.b!.data.toFlat()));
  } finally {
    rmSync(path);
  }
});
