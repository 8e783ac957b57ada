// randomUniform: U[low, high) samples on a device, drawn from a RandomState on the CPU, hashed from a seed it draws on the GPU.

import { packParams } from '../../compiler/wgsl.js';
import { kernelFor, type DeviceKernels } from './backend.js';
import { NDArray, TYPED, checkShape, sizeOf, type DType, type Device } from './ndarray.js';
import { random as globalRandom, type RandomState } from './random.js';
import { WG, elementType, f32, flatMain, kernel, u32 } from './webgpu/kernel.js';
import { cached, empty, launch } from './webgpu/launch.js';
import { checkRandomOptions, type RandomOptions } from './xp.js';

function randomUniformCpu(shape: readonly number[], low: number, high: number, dtype: DType, rng: RandomState): NDArray {
  const out = new TYPED[dtype](sizeOf(shape));
  for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * rng.uniform();
  return new NDArray(out, shape.slice());
}

/**
 * U[low, high) samples made on the GPU: element i is a hash of (seed, i), the seed drawn
 * from `rng`, so seeding the global stream reproduces GPU runs too. The hash is two rounds
 * of PCG's output permutation (Jarzynski and Olano, "Hash Functions for GPU Rendering",
 * 2020); for a fixed seed it is a bijection of i, so no value repeats within 2^32 draws.
 */
function randomUniformWebgpu(shape: readonly number[], low: number, high: number, dtype: DType, rng: RandomState): NDArray {
  const out = empty(shape, dtype);
  const seed = rng.nextU32();
  if (out.size === 0) return out;
  const type = elementType(dtype);
  const kern = cached(`randomUniform|${type}`, () => kernel('randomUniform', [{ name: 'Y', type, role: 'output' }],
    [u32('n'), u32('seed'), f32('low'), f32('scale'), f32('below')], WG, `
fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

${flatMain(WG)}
  let h = pcg(pcg(i ^ pcg(p.seed)) + p.seed);
  // the top 24 bits: exactly representable, so u < 1
  let u = f32(h >> 8u) * (1.0 / 16777216.0);
  // low + scale * u can round up to high: keep the largest float below it instead
  let y = min(p.low + p.scale * u, p.below);
  Y[i] = ${type === 'i32' ? 'i32(y)' : 'y'};
}`));
  const lo = Math.fround(low), hi = Math.fround(high);
  const params = packParams(kern, { n: out.size, seed, low: lo, scale: hi - lo, below: hi > lo ? nextBelow(hi) : lo });
  launch(kern, [out], params, out.size);
  return out;
}

/** The largest float32 below `x` (a finite float32). */
function nextBelow(x: number): number {
  const f = new Float32Array([x]);
  const u = new Int32Array(f.buffer);
  if (x === 0) return -1.401298464324817e-45;
  u[0] += x > 0 ? -1 : 1;
  return f[0];
}

const KERNELS: DeviceKernels<typeof randomUniformCpu> = { cpu: randomUniformCpu, webgpu: randomUniformWebgpu };

/**
 * U[low, high) samples of `shape` on `opts.device` (default the CPU), float32 unless
 * `opts.dtype`; the CPU draws from `opts.rng` (default the global stream), a GPU seeds its own
 * generator from it. Beside its kernels rather than in xp.ts, so that the array module (and
 * the graph core above it) reaches no WGSL.
 */
export function randomUniform(shape: readonly number[], low = 0, high = 1, opts: RandomOptions = {}): NDArray {
  checkShape(shape, 'randomUniform');
  checkRandomOptions('randomUniform', opts);
  if (!Number.isFinite(low) || !Number.isFinite(high) || !(low <= high)) {
    throw new Error(`randomUniform: low and high must be finite with low <= high, got low ${low}, high ${high}`);
  }
  return kernelFor(KERNELS, opts.device ?? 'cpu')(shape, low, high, opts.dtype ?? 'float32', opts.rng ?? globalRandom);
}
