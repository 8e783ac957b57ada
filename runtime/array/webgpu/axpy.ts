// ys[i] += alpha xs[i] for a group of array pairs in ONE dispatch (SGD's update of a whole model).

import type { WgslKernel } from '../../../compiler/wgsl.js';
import { packParams } from '../../../compiler/wgsl.js';
import { libraryKernels } from '../library-kernels.js';
import type { NDArray } from '../ndarray.js';
import { pin } from '../pin.js';
import { currentDevice, type GpuContext } from './device.js';
import { MAX_GROUPS, f32, kernel, range, u32, type Operand } from './kernel.js';
import { cached, empty, launchGrid } from './launch.js';

const WG = 64;
/** Elements per invocation, as the elementwise kernels stride (PER_LANE in backend.ts). */
const PER_LANE = 4;

/**
 * Pairs one dispatch updates: as many as the device's storage buffers allow, up to 8 (a
 * weight and a bias for each of four layers). Always at least 4: WebGPU guarantees 8 storage
 * buffers per stage.
 */
const pairsOn = (ctx: GpuContext): number => Math.min(8, Math.floor(ctx.limits.maxStorageBuffersPerShaderStage / 2));

/**
 * One kernel for every group size: a pair the group does not fill binds two spare one-element
 * arrays and has length 0, so a model of any size compiles this kernel alone, and a built
 * app can create it ahead (below). Workgroup row y takes pair y; each invocation strides over
 * that pair's elements, reading its lengths and offsets once, before the loop.
 */
function axpyKernel(pairs: number): WgslKernel {
  const operands: Operand[] = range(pairs).flatMap((j): Operand[] => [
    { name: `Y${j}`, type: 'f32', role: 'output' },
    { name: `X${j}`, type: 'f32', role: 'input' },
  ]);
  const params = [...range(pairs).flatMap((j) => [u32(`n${j}`), u32(`yo${j}`), u32(`xo${j}`)]), f32('alpha')];
  const cases = range(pairs).map((j) => `    case ${j}u: {
      let n = p.n${j}; let yo = p.yo${j}; let xo = p.xo${j};
      for (var i = gid.x; i < n; i += stride) { Y${j}[yo + i] = Y${j}[yo + i] + a * X${j}[xo + i]; }
    }`);
  return kernel('axpy', operands, params, WG, `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let stride = nwg.x * ${WG}u;
  let a = p.alpha;
  switch gid.y {
${cases.join('\n')}
    default: {}
  }
}`);
}

const kernelOn = (ctx: GpuContext): WgslKernel => cached(`axpy|${pairsOn(ctx)}`, () => axpyKernel(pairsOn(ctx)));

// A built app creates the kernel in the background with the other library kernels (fusion/background.ts).
libraryKernels(() => [axpyKernel(pairsOn(currentDevice()))]);

/** The spare arrays that pad a group, per device: distinct buffers, as writable bindings must not alias. */
let spares: { context: GpuContext; arrays: NDArray[] } | null = null;

function sparesOn(ctx: GpuContext, count: number): NDArray[] {
  if (spares?.context !== ctx) spares = { context: ctx, arrays: [] };
  while (spares.arrays.length < count) spares.arrays.push(pin(empty([1], 'float32')));
  return spares.arrays;
}

/**
 * ys[i] += alpha xs[i] for every pair of contiguous float32 arrays of equal size, a dispatch
 * per group of up to 8 pairs. false, having done nothing, where a pair does not qualify or a
 * y's buffer is bound again elsewhere in the call (WebGPU forbids a writable binding that
 * aliases another; an x may share its buffer with other xs).
 */
export function axpy(alpha: number, xs: readonly NDArray[], ys: readonly NDArray[]): boolean {
  const ok = (a: NDArray) => a.device === 'webgpu' && a.dtype === 'float32' && a.isContiguous;
  if (!xs.every((x, i) => ok(x) && ok(ys[i]) && x.size === ys[i].size)) return false;
  const written = new Set(ys.map((y) => y.storage));
  if (written.size !== ys.length || xs.some((x) => written.has(x.storage))) return false;
  const ctx = currentDevice();
  const pairs = pairsOn(ctx), kern = kernelOn(ctx);
  for (let start = 0; start < ys.length; start += pairs) {
    const group = range(Math.min(pairs, ys.length - start)).map((j) => start + j);
    const pad = sparesOn(ctx, 2 * pairs).slice(2 * group.length);
    const values: Record<string, number> = { alpha };
    let longest = 0;
    range(pairs).forEach((j) => {
      const i = group[j];
      values[`n${j}`] = i === undefined ? 0 : ys[i].size;
      values[`yo${j}`] = i === undefined ? 0 : ys[i].offset;
      values[`xo${j}`] = i === undefined ? 0 : xs[i].offset;
      if (i !== undefined) longest = Math.max(longest, ys[i].size);
    });
    const operands = [...group.flatMap((i) => [ys[i], xs[i]]), ...pad];
    launchGrid(kern, operands, packParams(kern, values), [Math.min(MAX_GROUPS, Math.max(1, Math.ceil(longest / (WG * PER_LANE)))), pairs, 1]);
  }
  return true;
}
