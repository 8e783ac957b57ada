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
/**
 * Elements per invocation. A pair gets ceil(n / (WG * PER_LANE)) workgroups: 16 scalar
 * elements a lane is the 4 vec4s a lane of the elementwise kernels does (backend.ts's PER_LANE).
 */
const PER_LANE = 16;

/**
 * Pairs one dispatch updates: as many as the device's storage buffers allow, up to 8 (a
 * weight and a bias for each of four layers). Always at least 4: WebGPU guarantees 8 storage
 * buffers per stage.
 */
const pairsOn = (ctx: GpuContext): number => Math.min(8, Math.floor(ctx.limits.maxStorageBuffersPerShaderStage / 2));

/**
 * One kernel for every group size: a pair the group does not fill binds two spare one-element
 * arrays and gets no workgroups, so a model of any size compiles this kernel alone, and a
 * built app can create it ahead (below). The workgroups are laid end to end, pair j's from
 * p.g<j> up to p.g<j+1>, each pair's in proportion to its length: a grid with a row per pair
 * sized for the longest spent most of its workgroups on a bias's row doing nothing. Lavapipe's
 * timestamps (in ~65 us ticks), a 784-100-100-10 model's update: that grid 852 us, the six
 * kernels it replaced 527 us, laid end to end 328 us.
 */
function axpyKernel(pairs: number): WgslKernel {
  const operands: Operand[] = range(pairs).flatMap((j): Operand[] => [
    { name: `Y${j}`, type: 'f32', role: 'output' },
    { name: `X${j}`, type: 'f32', role: 'input' },
  ]);
  const params = [...range(pairs).flatMap((j) => [u32(`n${j}`), u32(`yo${j}`), u32(`xo${j}`), u32(`g${j}`)]), u32(`g${pairs}`), f32('alpha')];
  // which pair this workgroup serves: the last whose first workgroup it is at or past
  const find = range(pairs - 1).map((j) => `  if (w >= p.g${j + 1}) { j = ${j + 1}u; }`);
  const cases = range(pairs).map((j) => `    case ${j}u: {
      let n = p.n${j}; let yo = p.yo${j}; let xo = p.xo${j};
      let stride = (p.g${j + 1} - p.g${j}) * ${WG}u;
      for (var i = (w - p.g${j}) * ${WG}u + lane; i < n; i += stride) { Y${j}[yo + i] = Y${j}[yo + i] + a * X${j}[xo + i]; }
    }`);
  return kernel('axpy', operands, params, WG, `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let w = wid.x;
  let a = p.alpha;
  var j = 0u;
${find.join('\n')}
  switch j {
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
 * Backend.axpy on WebGPU: ys[i] += alpha xs[i] for pairs of contiguous float32 arrays of equal
 * size (the caller's part), a dispatch per group of up to 8 pairs. false, having done nothing,
 * where a y's buffer is bound again elsewhere in the call (WebGPU forbids a writable binding
 * that aliases another; an x may share its buffer with other xs).
 */
export function axpy(alpha: number, xs: readonly NDArray[], ys: readonly NDArray[]): boolean {
  const written = new Set(ys.map((y) => y.storage));
  if (written.size !== ys.length || xs.some((x) => written.has(x.storage))) return false;
  const ctx = currentDevice();
  const pairs = pairsOn(ctx), kern = kernelOn(ctx);
  for (let start = 0; start < ys.length; start += pairs) {
    const group = range(Math.min(pairs, ys.length - start)).map((j) => start + j);
    const pad = sparesOn(ctx, 2 * pairs).slice(2 * group.length);
    const values: Record<string, number> = { alpha };
    let groups = 0;
    for (let j = 0; j < pairs; j++) {
      // a pair the group does not fill: length 0, no workgroups
      const i = group[j], n = i === undefined ? 0 : ys[i].size;
      values[`n${j}`] = n;
      values[`yo${j}`] = i === undefined ? 0 : ys[i].offset;
      values[`xo${j}`] = i === undefined ? 0 : xs[i].offset;
      values[`g${j}`] = groups;
      // a pair past 67M elements strides over its share of the 65535 workgroups a dispatch may have
      groups += Math.min(Math.ceil(n / (WG * PER_LANE)), Math.floor(MAX_GROUPS / pairs));
    }
    values[`g${pairs}`] = groups;
    if (groups === 0) continue;
    const operands = [...group.flatMap((i) => [ys[i], xs[i]]), ...pad];
    launchGrid(kern, operands, packParams(kern, values), [groups, 1, 1]);
  }
  return true;
}
