// Every optimizer's update is one kernel per parameter (parameter and state written together) and bumps their versions, on both devices.

import test from 'ava';
import { L, array, optimizers, type NDArray } from '../../runtime/index.js';

type Optimizer = optimizers.Optimizer;
import { dispatchStats } from '../../runtime/array/cpu/kernels.js';
import { queueStats } from '../../runtime/array/webgpu/queue.js';
import { uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);
const counter = (device: string) => () => (device === 'cpu' ? dispatchStats.count : queueStats.dispatches);
const f32 = (x: NDArray) => array(Float32Array.from(x.toFlat()), x.shape);

class Two extends L.Chain {
  l1 = new L.Linear(6, 5);
  l2 = new L.Linear(5, 3);
}

const MAKERS: Record<string, () => Optimizer> = {
  SGD: () => new optimizers.SGD(0.1),
  MomentumSGD: () => new optimizers.MomentumSGD(0.1, 0.9),
  Adam: () => new optimizers.Adam(),
  AdaGrad: () => new optimizers.AdaGrad(),
  RMSprop: () => new optimizers.RMSprop(),
  AdaDelta: () => new optimizers.AdaDelta(),
  NesterovAG: () => new optimizers.NesterovAG(),
};

for (const [name, make] of Object.entries(MAKERS)) {
  devices.each(`${name}: update() is one kernel per parameter (after the first step's state zeros), and bumps the parameter's version`, async (t, device) => {
    const model = new Two();
    if (device === 'webgpu') model.toGpu();
    const params = [...model.params()];
    params.forEach((p, k) => { p.grad = device === 'cpu' ? f32(uniform(p.data.shape, 20 + k)) : f32(uniform(p.data.shape, 20 + k)).toGpu(); });
    const opt = make().setup(model);
    opt.update(); // the first step also creates the state arrays (zero fills)
    const launches = counter(device);
    const versions = params.map((p) => p.data.version);
    const before = launches();
    opt.update();
    t.is(launches() - before, params.length, 'one kernel per parameter');
    params.forEach((p, k) => t.true(p.data.version > versions[k], `parameter ${k}'s version went up`));
    // the update wrote numbers, not NaN, from finite gradients
    for (const p of params) t.true(Array.from(await p.data.data()).every(Number.isFinite));
  });
}
