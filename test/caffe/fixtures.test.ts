// Real Caffe's per-layer outputs (../shared/caffe) reproduced by CaffeFunction on every device, one test per fixture.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import test from 'ava';
import type { NDArray } from '../../runtime/array/ndarray.js';
import { CaffeFunction } from '../../runtime/caffe/caffe-function.js';
import { isSupported } from '../../runtime/caffe/layers.js';
import { readPrototxt } from '../../runtime/caffe/prototxt.js';
import { testMode } from '../../runtime/graph/config.js';
import { Variable } from '../../runtime/graph/variable.js';
import '../../runtime/graph/backward.js';
import { useDevices } from '../helpers.js';
import { readNpy, relativeMismatch, sharedFolder } from './caffe-helpers.js';

const devices = await useDevices(test);

interface Fixture {
  readonly name: string;
  readonly prototxt: string;
  readonly caffemodel: string | null;
  readonly inputs: Readonly<Record<string, string>>;
  readonly outputs: Readonly<Record<string, string>>;
}

/** caffe1_layers: NAME.prototxt, NAME.caffemodel?, NAME.input.npy (blob data) or NAME.input_<blob>.npy, NAME.output_<blob>.npy. */
function caffe1Fixtures(dir: string): Fixture[] {
  const files = readdirSync(dir);
  return files.filter((f) => f.endsWith('.prototxt')).map((f) => {
    const name = f.slice(0, -'.prototxt'.length);
    const blobs = (kind: 'input' | 'output') => Object.fromEntries(files.flatMap((g) => {
      const m = new RegExp(`^${name}\\.${kind}(?:_(.+))?\\.npy$`).exec(g);
      return m === null ? [] : [[m[1] ?? 'data', `${dir}/${g}`]];
    }));
    const model = `${dir}/${name}.caffemodel`;
    return { name, prototxt: `${dir}/${f}`, caffemodel: existsSync(model) ? model : null, inputs: blobs('input'), outputs: blobs('output') };
  });
}

/** opencv_layers_2015: layer_X.prototxt (input blob 'input' from blob.npy) whose output blob 'output' is layer_X.npy. */
function opencvFixtures(dir: string): Fixture[] {
  return readdirSync(dir).filter((f) => f.endsWith('.prototxt')).map((f) => {
    const name = f.slice(0, -'.prototxt'.length);
    const model = `${dir}/${name}.caffemodel`;
    return { name, prototxt: `${dir}/${f}`, caffemodel: existsSync(model) ? model : null, inputs: { input: `${dir}/blob.npy` }, outputs: { output: `${dir}/${name}.npy` } };
  });
}

/** The layer types of a fixture's net that CaffeFunction cannot run: each fixture must have none. */
function unsupported(f: Fixture): string[] {
  const net = readPrototxt(readFileSync(f.prototxt, 'utf8'), f.prototxt);
  return [...new Set(net.layers.map((l) => l.type).filter((t) => !isSupported(t)))];
}

const folders: [string, (dir: string) => Fixture[]][] = [['caffe1_layers', caffe1Fixtures], ['opencv_layers_2015', opencvFixtures]];
for (const [folder, list] of folders) {
  const dir = sharedFolder(test, folder);
  if (dir === null) continue;
  const fixtures = list(dir);
  test(`caffe fixtures: ${folder} has fixtures, each with inputs and outputs`, (t) => {
    t.true(fixtures.length > 0);
    for (const f of fixtures) {
      t.true(Object.keys(f.inputs).length > 0, `${f.name} has no input`);
      t.true(Object.keys(f.outputs).length > 0, `${f.name} has no output`);
    }
  });
  for (const f of fixtures) {
    const missing = unsupported(f);
    if (missing.length > 0) {
      test(`caffe fixture ${folder}/${f.name}: every layer type is supported`, (t) => t.fail(`unsupported layer types: ${missing.join(', ')}`));
      continue;
    }
    devices.each(`caffe fixture ${folder}/${f.name}: outputs match real Caffe within 1e-4 relative`, async (t, device) => {
      const warnings: string[] = [];
      const func = new CaffeFunction(f.caffemodel, { prototxt: f.prototxt, warn: (m) => warnings.push(m) });
      if (device === 'webgpu') func.toGpu();
      const inputs = Object.fromEntries(Object.entries(f.inputs).map(([blob, file]) => [blob, new Variable(readNpy(file).to(device))]));
      const names = Object.keys(f.outputs);
      const ys = testMode(() => func({ inputs, outputs: names }));
      t.deepEqual(warnings, []);
      for (const [i, name] of names.entries()) {
        const expected: NDArray = readNpy(f.outputs[name]);
        t.deepEqual(ys[i].shape, expected.shape, `blob ${name}`);
        t.is(ys[i].data.device, device);
        const bad = relativeMismatch(await ys[i].data.data(), expected.toFlat());
        t.is(bad, null, `blob ${name}: ${bad}`);
      }
    });
  }
}
