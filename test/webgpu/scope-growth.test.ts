// A scope that outgrows the collection threshold: no pointless collection or outrun warning, since the scope gives its memory back itself.

import test from 'ava';
import { F, NDArray, Variable, collect, memory, noBackprop, randomNormal, scope, testMode } from '../../runtime/index.js';
import { CaffeFunction } from '../../runtime/caffe/caffe-function.js';
import { GC_SLACK, OUTRUN_WARNING, SCOPE_HOLD_WARNING, scopeHold } from '../../runtime/array/webgpu/memory.js';
import { sharedFolder } from '../caffe/caffe-helpers.js';
import { useDevices } from '../helpers.js';

// serial, in this order: the outrun warning is given once per process, and the counters are per process
const devices = await useDevices(test.serial);

function warningsOf(fn: () => void): string[] {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => { warnings.push(args.join(' ')); };
  try {
    fn();
  } finally {
    console.warn = warn;
  }
  return warnings;
}

const MIB16 = 16 * 2 ** 20;
// enough 16 MiB temporaries to cross the threshold twice with no task run in between
const MANY = Math.ceil((6 * GC_SLACK) / MIB16);

const lenet = sharedFolder(test, 'lenet_2016');
if (lenet !== null) {
  devices.gpu('scope: Caffe\'s LeNet on 1,000 images in one forward, inside scope(), gets no outrun warning and gives its memory back', async (t) => {
    const func = new CaffeFunction(`${lenet}/lenet_iter_10000.caffemodel`, { prototxt: `${lenet}/lenet.prototxt` }).toGpu();
    const images = randomNormal([1000, 1, 28, 28], 0.5, 0.3).toFlat();
    await collect();
    const before = memory().inUse;
    let pred: Variable | null = null;
    const warnings = warningsOf(() => {
      pred = scope(() => testMode(() => noBackprop(() => {
        const data = new Variable(new NDArray(images, [1000, 1, 28, 28]).toGpu(), { requiresGrad: false });
        return F.argmax(func({ inputs: { data }, outputs: ['prob'] })[0], 1);
      })));
    });
    t.deepEqual(warnings, []);
    const labels = Array.from(await pred!.data.data());
    t.is(labels.length, 1000);
    t.true(labels.every((l) => Number.isInteger(l) && l >= 0 && l < 10));
    t.true(memory().inUse - before <= 4096, `${memory().inUse - before} bytes still in use`);
  });
}

devices.gpu('scope: one step whose temporaries outgrow the collection threshold many times over gets no outrun warning, and gives them all back as it ends', async (t) => {
  const x = randomNormal([4, 1024, 1024], 0, 1, { device: 'webgpu' }); // 16 MiB
  await collect();
  const before = memory().inUse;
  let total: Variable | null = null;
  let peak = 0;
  const warnings = warningsOf(() => {
    total = scope(() => {
      // every exp(x) is garbage at once, but the scope holds it until it ends: collecting
      // could return nothing, and nothing is wrong with this loop
      let s = F.sum(F.exp(x));
      for (let i = 1; i < MANY; i++) s = F.add(s, F.sum(F.exp(x)));
      peak = memory().inUse;
      return s;
    });
  });
  t.deepEqual(warnings, []);
  t.true(peak - before >= MANY * MIB16, `the scope held ${peak - before} bytes at its end`);
  t.true(Number.isFinite(await total!.item()));
  // the sum (the smallest bucket) is all that is left
  t.true(memory().inUse - before <= 256, `${memory().inUse - before} bytes still in use`);
});

devices.gpu('scope: what a loop of scopes returns and drops still counts, and a loop that never yields still gets the warning', async (t) => {
  const x = randomNormal([4, 1024, 1024], 0, 1, { device: 'webgpu' });
  await collect();
  // each scope returns a 16 MiB array, which the loop drops: only the collector can return it
  const warnings = warningsOf(() => { for (let i = 0; i < MANY; i++) scope(() => F.exp(x)); });
  t.is(warnings.length, 1, warnings.join('\n'));
  t.true(warnings[0].startsWith(OUTRUN_WARNING), warnings[0]);
  await collect();
  t.true(memory().inUse < 40 * 2 ** 20, `after an await, ${memory().inUse} bytes in use`);
});

devices.gpu('scope: a scope around a whole loop, once it holds more than any step should, gets one warning saying to scope each step', async (t) => {
  const x = randomNormal([4, 1024, 1024], 0, 1, { device: 'webgpu' });
  const saved = scopeHold.warnBytes;
  scopeHold.warnBytes = 4 * MIB16; // instead of 2 GiB, which lavapipe's share of this machine's memory should not spend on a test
  try {
    const warnings = warningsOf(() => scope(() => {
      for (let i = 0; i < 8; i++) F.exp(x);
    }));
    t.is(warnings.length, 1, warnings.join('\n'));
    t.true(warnings[0].startsWith(SCOPE_HOLD_WARNING), warnings[0]);
    t.regex(warnings[0], /\(80 MiB held\)$/);
  } finally {
    scopeHold.warnBytes = saved;
  }
});
