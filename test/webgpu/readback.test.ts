// Reading arrays back reuses the staging buffers of finished reads: a loop reading its loss every step creates none.

import test from 'ava';
import { NDArray } from '../../runtime/array/ndarray.js';
import { currentDevice } from '../../runtime/array/webgpu/device.js';
import { useDevices } from '../helpers.js';

const devices = await useDevices(test);

/** Buffers `fn` creates on the device. */
async function created(fn: () => Promise<void>): Promise<number> {
  const device = currentDevice().device;
  const create = device.createBuffer;
  let n = 0;
  device.createBuffer = (d) => { n++; return create.call(device, d); };
  try {
    await fn();
  } finally {
    device.createBuffer = create;
  }
  return n;
}

devices.gpu('reads of a size read before take a finished read\'s staging buffer; concurrent reads each get their own, and every value is right', async (t) => {
  const arrays = [1, 2, 3].map((k) => new NDArray(new Float32Array([k, k + 0.5, -k]), [3]).toGpu());
  await arrays[0].data(); // a staging buffer of 12 bytes exists after this
  t.is(await created(async () => {
    for (let i = 0; i < 5; i++) t.deepEqual(Array.from(await arrays[i % 3].data()), [1 + (i % 3), 1.5 + (i % 3), -1 - (i % 3)]);
  }), 0, 'one read at a time: the same staging buffer every time');
  const together = await Promise.all(arrays.map((a) => a.data()));
  t.deepEqual(together.map((d) => Array.from(d)), [[1, 1.5, -1], [2, 2.5, -2], [3, 3.5, -3]], 'concurrent reads do not share a buffer');
  t.is(await created(async () => { await Promise.all(arrays.map((a) => a.data())); }), 0, 'the concurrent reads\' buffers are kept too');
  const odd = new NDArray(new Float32Array([7]), [1]).toGpu();
  t.deepEqual(Array.from(await odd.data()), [7], 'another size: its own buffer');
});
