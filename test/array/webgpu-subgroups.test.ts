// The matmul kernel that shares rows of A by subgroupBroadcast, on a device made with the `subgroups` feature.

import test from 'ava';
import { releaseWebGpu, useDevice } from '../../runtime/array/webgpu/index.js';
import { subgroupsUsable } from '../../runtime/ops/matmul/webgpu.js';
import { gpuTestGate, matmulTests } from './webgpu-cases.js';

// Dawn crashes if its instance or adapter is collected while the device lives: hold them
// until the device is released.
const owners: unknown[] = [];
let reason: string | null = null;
let noFeature = false;
try {
  const mod = (await import('webgpu' as string)) as { create(o: string[]): GPU; globals: object };
  for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const gpu = mod.create([]);
  const adapter = await gpu.requestAdapter();
  if (adapter === null) throw new Error('requestAdapter returned null');
  owners.push(gpu, adapter);
  if (!adapter.features.has('subgroups')) {
    noFeature = true;
    throw new Error(`the adapter has no 'subgroups' feature`);
  }
  const device = await adapter.requestDevice({ requiredFeatures: ['subgroups'] });
  await useDevice(device);
  if (!subgroupsUsable()) {
    noFeature = true;
    throw new Error(`subgroups smaller than 8 (${device.adapterInfo?.subgroupMinSize})`);
  }
} catch (e) {
  reason = `no WebGPU device with subgroups: ${(e as Error).message}`;
}
test.after.always(() => {
  releaseWebGpu();
  owners.length = 0;
});

// a missing adapter fails in CI; an adapter without the feature only skips
// the kernels matmul chooses with subgroups on CPU and GPU adapters
matmulTests(gpuTestGate(reason, !noFeature), '[webgpu subgroups]', () => ({
  cpu16x8: { rows: 'subgroup', tm: 16, tn4: 2, wx: 32, wy: 1 },
  cpu16x4: { rows: 'subgroup', tm: 16, tn4: 1, wx: 8, wy: 1 },
  cpu24x4: { rows: 'subgroup', tm: 24, tn4: 1, wx: 8, wy: 1 },
  narrow16x8: { rows: 'subgroup', tm: 16, tn4: 2, wx: 8, wy: 1 },
  gpu8x8: { rows: 'subgroup', tm: 8, tn4: 2, wx: 64, wy: 1 },
}));
