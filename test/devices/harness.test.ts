// The device harness itself: titles carry the device, a missing GPU skips or fails by the rule, checkOnDevices can fail.

import test, { type ExecutionContext } from 'ava';
import type { Device } from '../../runtime/array/ndarray.js';
import { FunctionNode, NDArray, Variable, array, F } from '../../runtime/index.js';
import { DEVICES, checkOnDevices, deviceSuite, deviceTitle, on, uniform, useDevices, type Declare, type GpuStatus } from '../helpers.js';

const devices = await useDevices(test);

test('devices: the suite runs on the CPU and on WebGPU; titles carry the device', (t) => {
  t.deepEqual([...DEVICES], ['cpu', 'webgpu']);
  t.is(deviceTitle('tanh: forward and gradients', 'webgpu'), 'tanh [webgpu]: forward and gradients');
  t.is(deviceTitle('maximum/minimum: a tie', 'cpu'), 'maximum/minimum [cpu]: a tie');
  t.is(deviceTitle('no colon', 'webgpu'), 'no colon [webgpu]');
});

/** A stand-in for ava's `test` that records what was declared and how. */
function recorder() {
  const declared: { title: string; skipped: boolean; impl: (t: ExecutionContext) => void | Promise<void> }[] = [];
  const declare = ((title: string, impl: (t: ExecutionContext) => void | Promise<void>) => { declared.push({ title, skipped: false, impl }); }) as Declare;
  declare.skip = (title, impl) => { declared.push({ title, skipped: true, impl }); };
  return { declare, declared };
}

const MISSING: GpuStatus = { available: false, reason: 'webgpu: no adapter found' };

test('devices: with an adapter, each declares a test per device and both run', async (t) => {
  const { declare, declared } = recorder();
  const ran: Device[] = [];
  deviceSuite(declare, { available: true, adapter: 'test' }, true).each('op: does things', (_, d) => { ran.push(d); });
  t.deepEqual(declared.map((d) => [d.title, d.skipped]), [['op [cpu]: does things', false], ['op [webgpu]: does things', false]]);
  for (const d of declared) await d.impl({} as ExecutionContext);
  t.deepEqual(ran, ['cpu', 'webgpu']);
});

test('devices: without an adapter outside CI, a WebGPU test is declared skipped with the reason in its title', (t) => {
  const { declare, declared } = recorder();
  const suite = deviceSuite(declare, MISSING, false);
  suite.each('op: does things', () => t.fail('must not run'));
  suite.gpu('op: GPU only', () => t.fail('must not run'));
  t.deepEqual(declared.map((d) => [d.title, d.skipped]), [
    ['op [cpu]: does things', false],
    ['op [webgpu]: does things (skipped: no WebGPU here: webgpu: no adapter found)', true],
    ['op [webgpu]: GPU only (skipped: no WebGPU here: webgpu: no adapter found)', true],
  ]);
});

test('devices: without an adapter under CI, a WebGPU test is declared and fails with the reason', async (t) => {
  const { declare, declared } = recorder();
  deviceSuite(declare, MISSING, true).gpu('op: GPU only', () => t.fail('must not run'));
  t.deepEqual(declared.map((d) => [d.title, d.skipped]), [['op [webgpu]: GPU only', false]]);
  const failures: string[] = [];
  await declared[0].impl({ fail: (m?: string) => { failures.push(m ?? ''); } } as ExecutionContext);
  t.deepEqual(failures, ['WebGPU is required when CI is set, and no adapter was found: webgpu: no adapter found']);
});

// ---- checkOnDevices can fail ---------------------------------------------------------------

type Wrong = { device: Device; dtype: 'float32'; in: 'forward' | 'backward' | 'no gradient' } | null;

/** y = 2x, with its forward or backward off (or its gradient missing) on one device and dtype, on purpose. */
class Doubler extends FunctionNode {
  readonly label = 'doubler';
  constructor(private readonly wrong: Wrong) { super(); }
  private off(x: NDArray, where: NonNullable<Wrong>['in']): boolean {
    return this.wrong !== null && this.wrong.in === where && x.device === this.wrong.device && x.dtype === this.wrong.dtype;
  }
  forward([x]: readonly NDArray[]): NDArray[] { return [F.mul(x, this.off(x, 'forward') ? 2.01 : 2).data]; }
  backward(_: readonly number[], [gy]: readonly Variable[]): (Variable | null)[] {
    if (this.off(gy.data, 'no gradient')) return [null];
    return [F.mul(gy, this.off(gy.data, 'backward') ? 2.01 : 2)];
  }
}

devices.each('checkOnDevices: passes a right op and rejects a wrong forward, a wrong or missing gradient', async (t, device) => {
  const x = uniform([3, 2], 2);
  const check = (wrong: Wrong) => checkOnDevices('mul', (mul) => (v) => new Doubler(wrong).apply([mul(v, 1)])[0], [x], { device });
  await t.notThrowsAsync(check(null));
  const on32 = { device, dtype: 'float32' } as const;
  await t.throwsAsync(check({ ...on32, in: 'forward' }), { message: new RegExp(`^checkOnDevices\\('mul'\\) on ${device}: output 0 differs from the CPU in float64: element 0`) });
  await t.throwsAsync(check({ ...on32, in: 'backward' }), { message: new RegExp(`^checkOnDevices\\('mul'\\) on ${device}: the gradient of input 0 differs from the CPU in float64`) });
  await t.throwsAsync(check({ ...on32, in: 'no gradient' }), { message: new RegExp(`^checkOnDevices\\('mul'\\) on ${device}: the gradient of input 0 differs`) });
});

devices.each('checkOnDevices: rejects a check that never calls the op, and a forward off the plain-JS reference', async (t, device) => {
  await t.throwsAsync(checkOnDevices('exp', () => (v) => F.tanh(v), [uniform([2], 3)], { device }), {
    message: `checkOnDevices('exp') on ${device}: the checked function never called F.exp`,
  });
  await t.throwsAsync(checkOnDevices('exp', (exp) => (v) => exp(v), [array([0, 1])], { device, expected: [[1, 2.7]] }), {
    message: new RegExp(`^checkOnDevices\\('exp'\\) on ${device}: output 0 differs from the plain-JS reference: element 1: 2\\.718`),
  });
});

devices.gpu('toGpu/toCpu: a Variable moves with its gradient; ops on it stay on the GPU', async (t) => {
  const x = on('cpu', array([[1, -2], [3, 4]]));
  F.sum(F.mul(x, x)).backward();
  x.toGpu();
  t.is(x.data.device, 'webgpu');
  t.is(x.grad!.device, 'webgpu');
  const y = F.tanh(x);
  t.is(y.data.device, 'webgpu');
  await x.toCpu();
  t.is(x.data.device, 'cpu');
  t.deepEqual(x.grad!.toArray(), [[2, -4], [6, 8]]);
  t.deepEqual(await y.data.toCpu().then((a) => a.device), 'cpu');
});
