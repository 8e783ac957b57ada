// matmul's pack on WebGPU: rows padded to a multiple of 4 with zeros, from any strided view, on its (row, column block, batch) grid.

import test from 'ava';
import { NDArray, array } from '../../runtime/index.js';
import { pack } from '../../runtime/ops/matmul/webgpu.js';
import { uniform, useDevices } from '../helpers.js';

const devices = await useDevices(test);

devices.gpu('pack: every element of a view lands at its padded place and the padding is zero: wide, narrow, batched and reversed views', async (t) => {
  // rows past one workgroup of lanes (64) and columns past one block (16), or a few of each
  const cases: { shape: number[]; view: (x: NDArray) => NDArray }[] = [
    { shape: [130, 37], view: (x) => x },
    { shape: [37, 130], view: (x) => x.transpose([1, 0]) },
    { shape: [100, 10], view: (x) => x.transpose([1, 0]) },
    { shape: [3, 5, 70, 6], view: (x) => x.transpose([1, 0, 3, 2]) }, // two batch dims that do not collapse
    { shape: [20, 9], view: (x) => x.view([20, 9], [9, -1], 8) }, // each row reversed: a negative column stride
    { shape: [1, 1], view: (x) => x },
  ];
  for (const { shape, view } of cases) {
    const drawn = uniform(shape, shape.length + shape[0]), host = array(Float32Array.from(drawn.toFlat()), shape);
    const x = view(host.toGpu()), ref = view(host);
    const packed = pack(x);
    t.deepEqual(packed.shape, x.shape, `shape ${shape}`);
    const r = x.ndim, rows = x.shape[r - 2], cols = x.shape[r - 1], colsP = Math.ceil(cols / 4) * 4;
    // read the whole padded buffer: (batch..., rows, colsP)
    const padded = await new NDArray(packed.storage, [...x.shape.slice(0, r - 2), rows, colsP]).data();
    const want = Array.from(ref.toFlat());
    let bad = '';
    for (let i = 0; i < padded.length && bad === ''; i++) {
      const c = i % colsP, rest = (i - c) / colsP;
      const expected = c < cols ? want[rest * cols + c] : 0;
      if (padded[i] !== expected) bad = `element ${i} (column ${c}) is ${padded[i]}, expected ${expected}`;
    }
    t.is(bad, '', `view of ${shape} as ${x.shape} (strides ${x.strides})`);
  }
});
