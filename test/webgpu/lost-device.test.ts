// A lost device (driver reset, destroy) gives an error saying so, never a hang; a new one can be started.
// Its own file: losing the device would break any test running beside it.

import test from 'ava';
import { array, initWebGpu, releaseWebGpu } from '../../runtime/index.js';
import { currentDevice } from '../../runtime/array/webgpu/device.js';
import { useDevices } from '../helpers.js';

const devices = await useDevices(test);

devices.gpu('bad input: a lost device gives an error saying so, and a new device can be started', async (t) => {
  const x = array([1, 2, 3]).toGpu();
  currentDevice().device.destroy();
  await new Promise((r) => setTimeout(r, 100));
  t.throws(() => array([1]).toGpu(), { message: /webgpu: the device was lost \(destroyed\)/ });
  await t.throwsAsync(() => x.data(), { message: /webgpu: the device was lost/ });
  releaseWebGpu();
  await initWebGpu();
  t.deepEqual(await array([4, 5]).toGpu().array(), [4, 5]);
});

