// Benchmark: elementwise chains unfused and fused (B3, an LSTM cell, a GELU layer, an Adam update), with jax-js jit and hand-written ceilings, on the CPU and WebGPU.
// Run from the repository root: npm run bench:fusion -- [--devices cpu,webgpu] [--workloads b3,lstm,gelu,adam] [--reps N] [--warmup N] [--burst N] [--sessions N] [--timeout S]

import * as K from 'kusari';
import { F, L, RandomState, array, optimizers, scope, type NDArray, type Variable } from 'kusari';
import { parseArgs } from 'node:util';
import { input, scalar } from '../compiler/expr.js';
import { dispatchStats } from '../runtime/array/cpu/kernels.js';
import { elementwiseLaunch } from '../runtime/array/webgpu/backend.js';
import { currentDevice } from '../runtime/array/webgpu/device.js';
import { storageOf } from '../runtime/array/webgpu/launch.js';
import { flush, queueStats, settled } from '../runtime/array/webgpu/queue.js';
import { releaseWebGpu, useDevice } from '../runtime/array/webgpu/index.js';
import { elementwise, ones, zeros } from '../runtime/array/xp.js';
import { defineFusedKernel } from '../runtime/fusion/declared.js';
import { fuse as fuseFromModule } from '../runtime/fusion/fuse.js';
import {
  deviceHeading, errorText, finishBench, median, peerVersions, positiveInt, printHeading, rounds, safely, startBench,
  type Device, type Jax, type WebGpu,
} from './harness.js';

const BENCH = 'fusion';
const N = 1 << 20;               // B3's length
const A = 0.7, B = -0.3;         // B3's scalars
const LSTM = [64, 512] as const; // each gate's pre-activation: the (64, 4x512) block as four (64, 512) slices
const GELU = { batch: 100, in: 1000, out: 1000 };
const ADAM_SIZES = [784, 1000, 1000, 10];

type Mode = 'forward' | 'forward+backward' | 'update';

/** One way to run one workload: `step` does the work and resolves once the device has finished it. */
interface Contender {
  name: string;
  /** kusari contenders count their kernel launches; peers cannot be counted from outside */
  counted: boolean;
  step(): Promise<void>;
  dispose?(): void;
}

interface Workload {
  name: string;
  mode: Mode;
  make(device: Device, jax: Jax | null, fuse: Fuse | null, gpu: WebGpu | null): Contender[];
}

/** `fuse(fn)`: the package's export once runtime/index.ts has it, else runtime/fusion's own. */
type Fuse = <T extends (...args: never[]) => unknown>(fn: T) => T;
const fuse: Fuse | null = typeof (K as Record<string, unknown>).fuse === 'function' ? (K as unknown as { fuse: Fuse }).fuse : (fuseFromModule as unknown as Fuse);

/**
 * Wait for kusari's GPU work: let work held behind a pipeline still being made be recorded
 * (settled: onSubmittedWorkDone alone would resolve before it is even submitted), submit
 * everything, and wait until the queue has run it.
 */
async function finished(device: Device): Promise<void> {
  if (device === 'cpu') return;
  await settled();
  flush();
  await currentDevice().device.queue.onSubmittedWorkDone();
}

const launches = (device: Device) => (device === 'cpu' ? dispatchStats.count : queueStats.dispatches);

function randoms(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  const rng = new RandomState(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

const onDevice = (x: NDArray, device: Device) => (device === 'cpu' ? x : x.toGpu());

/**
 * A kusari contender for a chain `fn` over arrays: forward only, or forward then one backward
 * pass from the sum of its outputs with a gradient of ones (no loss reduction, so the chain
 * stays elementwise; jax-js's contender takes the gradient of the same sum).
 */
function kusariChain(name: string, device: Device, mode: Mode, fn: (...xs: Variable[]) => Variable | Variable[], data: NDArray[], requiresGrad: boolean[]): Contender {
  const xs = data.map((d, k) => new K.Variable(onDevice(d, device), { requiresGrad: requiresGrad[k] }));
  // the output gradients (ones), made once outside the timed and counted step
  const seeds = new Map<string, NDArray>();
  const seed = (o: Variable) => {
    const key = `${o.shape.join('x')}|${o.dtype}`;
    let g = seeds.get(key);
    if (g === undefined) seeds.set(key, (g = ones(o.shape, o.dtype, device)));
    return g;
  };
  if (mode === 'forward+backward') {
    const out = fn(...xs);
    seed((Array.isArray(out) ? out : [out])[0]);
  }
  return {
    name,
    counted: true,
    async step() {
      scope(() => {
        for (const x of xs) x.cleargrad();
        const out = fn(...xs);
        const outs = Array.isArray(out) ? out : [out];
        if (mode === 'forward+backward') {
          // ONE backward pass from all outputs, as a loss reaches them: the sum of the outputs
          // (an elementwise add, its backward a pass-through) seeded with ones. A backward() per
          // output ran the fused node's backward once per output and then added up its 5 input
          // gradients (8 dispatches for the LSTM cell where one pass takes 3)
          const root = outs.length === 1 ? outs[0] : outs.reduce((a, b) => F.add(a, b));
          root.grad = seed(root);
          root.backward();
        }
      });
      await finished(device);
    },
  };
}

// ---- B3: tanh(x*a + b) * sigmoid(x) + x*x*0.5 --------------------------------------------------

const b3 = (x: Variable) => F.add(F.mul(F.tanh(F.add(F.mul(x, A), B)), F.sigmoid(x)), F.mul(F.mul(x, x), 0.5));

/** B3 as the build-time transform declares it (the same expression, so the same kernels): no tracing per call. */
const b3x = input(0);
const b3Declared = defineFusedKernel({ name: 'b3', ir: [b3x.mul(A).add(B).tanh().mul(b3x.sigmoid()).add(b3x.mul(b3x).mul(0.5))] });

/** The one-loop JS ceiling: the forward, and with `backward` also dL/dx for dL/dy = 1, in one pass. */
function b3Loop(x: Float32Array, y: Float32Array, dx: Float32Array | null): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i], t = Math.tanh(v * A + B), s = 1 / (1 + Math.exp(-v));
    y[i] = t * s + v * v * 0.5;
    if (dx !== null) dx[i] = (1 - t * t) * A * s + t * s * (1 - s) + v;
  }
}

/**
 * How a hand kernel's workgroups split the array: 'grid' strides over it (1024 workgroups, 4
 * vec4s an invocation: what lavapipe liked best for this loop), 'blocks' gives workgroup w the
 * w-th contiguous block and is launched as kusari launches its own elementwise kernels
 * (backend.ts's elementwiseLaunch: 64 blocks on a software adapter). Both are ceilings: which
 * is faster depends on the device.
 */
type HandLayout = 'grid' | 'blocks';

const B3_WGSL = (backward: boolean, layout: HandLayout) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
${backward ? '@group(0) @binding(2) var<storage, read> gy: array<vec4<f32>>;\n@group(0) @binding(3) var<storage, read_write> dx: array<vec4<f32>>;' : ''}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let q = arrayLength(&x);
${layout === 'grid' ? `  for (var i = wid.x * 64u + lid.x; i < q; i += nw.x * 64u) {` : `  let span = (q + nw.x * 64u - 1u) / (nw.x * 64u) * 64u;
  let first = wid.x * span;
  for (var i = first + lid.x; i < min(first + span, q); i += 64u) {`}
    let v = x[i];
    let t = tanh(v * ${A} + ${B});
    let s = 1.0 / (1.0 + exp(-v));
    y[i] = t * s + v * v * 0.5;
    ${backward ? 'dx[i] = gy[i] * ((1.0 - t * t) * ' + A + ' * s + t * s * (1.0 - s) + v);' : ''}
  }
}`;

/** A hand-written vec4 WGSL ceiling on kusari's device: one dispatch, forward (and backward) in one pass, reading kusari's x. */
function b3Wgsl(backward: boolean, x: NDArray, layout: HandLayout): Contender {
  const { device } = currentDevice();
  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const make = (data?: Float32Array<ArrayBuffer>) => {
    const b = device.createBuffer({ size: N * 4, usage: storage });
    if (data !== undefined) device.queue.writeBuffer(b, 0, data);
    return b;
  };
  const own = backward ? [make(), make(new Float32Array(N).fill(1)), make()] : [make()];
  const input = { buffer: storageOf(x).use(), offset: 0, size: N * 4 };
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: B3_WGSL(backward, layout) }), entryPoint: 'main' } });
  const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [input, ...own.map((buffer) => ({ buffer }))].map((resource, binding) => ({ binding, resource })) });
  const groups = layout === 'grid' ? Math.min(1024, Math.ceil(N / 4 / 64)) : elementwiseLaunch(N / 4).groups;
  return {
    name: `hand-written vec4 WGSL (${layout === 'grid' ? 'grid-stride' : 'blocks'})`,
    counted: false,
    async step() {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(groups);
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    },
    dispose() { for (const b of own) b.destroy(); },
  };
}

const b3Workload = (mode: Mode): Workload => ({
  name: 'B3 (1M float32)',
  mode,
  make(device, jax, fuseFn) {
    const xs = randoms(N, 3);
    // ONE input array for every kusari contender and the hand kernel: where a 4 MiB buffer
    // lands in memory moved a step by up to ~0.5 ms on lavapipe, more than the gaps measured
    // here (two contenders running the same declared kernel, each on its own copy of x,
    // differed by 0.2-0.3 ms in one run, and the one made first was the slower)
    const data = [onDevice(array(xs, [N]), device)];
    const out: Contender[] = [kusariChain('kusari unfused', device, mode, b3, data, [true])];
    if (fuseFn !== null) out.push(kusariChain('kusari fused', device, mode, fuseFn(b3), data, [true]));
    out.push(kusariChain('kusari declared (build-time)', device, mode, (x) => b3Declared.apply(x)[0], data, [true]));
    if (jax !== null) out.push(jaxChain(jax, mode, (np, nn, [x]) => np.tanh(x.ref.mul(A).add(B)).mul(nn.sigmoid(x.ref)).add(x.ref.mul(x).mul(0.5)), [xs], [[N]]));
    if (device === 'cpu') {
      const y = new Float32Array(N), dx = mode === 'forward' ? null : new Float32Array(N);
      out.push({ name: 'hand-written JS loop', counted: false, async step() { b3Loop(xs, y, dx); } });
    } else {
      out.push(b3Wgsl(mode !== 'forward', data[0], 'grid'), b3Wgsl(mode !== 'forward', data[0], 'blocks'));
    }
    return out;
  },
});

// ---- an LSTM cell: c = sigmoid(f) c_prev + sigmoid(i) tanh(g); h = sigmoid(o) tanh(c) -------

const lstmCell = (i: Variable, f: Variable, o: Variable, g: Variable, c: Variable): Variable[] => {
  const c2 = F.add(F.mul(F.sigmoid(f), c), F.mul(F.sigmoid(i), F.tanh(g)));
  return [c2, F.mul(F.sigmoid(o), F.tanh(c2))];
};

const lstmWorkload = (mode: Mode): Workload => ({
  name: 'LSTM cell (64, 4x512)',
  mode,
  make(device, jax, fuseFn) {
    const n = LSTM[0] * LSTM[1];
    const raw = [0, 1, 2, 3, 4].map((k) => randoms(n, 10 + k));
    const data = raw.map((r) => array(r, [...LSTM]));
    const fn = (...xs: Variable[]) => lstmCell(xs[0], xs[1], xs[2], xs[3], xs[4]);
    const out: Contender[] = [kusariChain('kusari unfused', device, mode, fn, data, [true, true, true, true, true])];
    if (fuseFn !== null) out.push(kusariChain('kusari fused', device, mode, fuseFn(fn), data, [true, true, true, true, true]));
    if (jax !== null) {
      out.push(jaxChain(jax, mode, (np, nn, [i, f, o, g, c]) => {
        const c2 = nn.sigmoid(f).mul(c).add(nn.sigmoid(i).mul(np.tanh(g)));
        // jax-js needs one output for grad: h + c, whose gradient seeds both with ones as kusari does
        return nn.sigmoid(o).mul(np.tanh(c2.ref)).add(c2);
      }, raw, raw.map(() => [...LSTM])));
    }
    return out;
  },
});

// ---- a GELU MLP layer: gelu(x W^T + b), GELU's tanh form written out ---------------------------

const C_GELU = Math.sqrt(2 / Math.PI);
const geluChain = (h: Variable) => F.mul(F.mul(h, 0.5), F.add(F.tanh(F.mul(F.add(h, F.mul(F.mul(F.mul(h, h), h), 0.044715)), C_GELU)), 1));

const geluWorkload = (mode: Mode): Workload => ({
  name: `GELU layer (${GELU.batch}x${GELU.in} -> ${GELU.out})`,
  mode,
  make(device, jax, fuseFn) {
    const xRaw = randoms(GELU.batch * GELU.in, 20), wRaw = randoms(GELU.out * GELU.in, 21, Math.sqrt(1 / GELU.in)), bRaw = randoms(GELU.out, 22, 0.1);
    const data = [array(xRaw, [GELU.batch, GELU.in]), array(wRaw, [GELU.out, GELU.in]), array(bRaw, [GELU.out])];
    const layer = (act: (h: Variable) => Variable) => (x: Variable, W: Variable, b: Variable) => act(F.linear(x, W, b));
    const out: Contender[] = [kusariChain('kusari unfused', device, mode, layer(geluChain), data, [false, true, true])];
    if (fuseFn !== null) out.push(kusariChain('kusari fused', device, mode, fuseFn(layer(geluChain)), data, [false, true, true]));
    if (jax !== null) {
      out.push(jaxChain(jax, mode, (np, _nn, [x, W, b]) => {
        const h = np.matmul(x, np.matrixTranspose(W)).add(b);
        return h.ref.mul(0.5).mul(np.tanh(h.ref.add(h.ref.mul(h.ref).mul(h).mul(0.044715)).mul(C_GELU)).add(1));
      }, [xRaw, wRaw, bRaw], [[GELU.batch, GELU.in], [GELU.out, GELU.in], [GELU.out]]));
    }
    return out;
  },
});

// ---- the Adam update of the 784-1000-1000-10 MLP ---------------------------------------------

const ADAM = { alpha: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

class Mlp extends L.Chain {
  l1 = new L.Linear(ADAM_SIZES[0], ADAM_SIZES[1]);
  l2 = new L.Linear(ADAM_SIZES[1], ADAM_SIZES[2]);
  l3 = new L.Linear(ADAM_SIZES[2], ADAM_SIZES[3]);
}

/** A model whose every parameter has a (fixed, random) gradient, on `device`. */
function modelWithGrads(device: Device): Mlp {
  const m = new Mlp();
  if (device === 'webgpu') m.toGpu();
  let seed = 30;
  for (const p of m.params()) p.grad = onDevice(array(randoms(p.data.size, seed++, 0.01), p.data.shape), device);
  return m;
}

const adamWorkload: Workload = {
  name: 'Adam update (784-1000-1000-10)',
  mode: 'update',
  make(device, jax) {
    const out: Contender[] = [];
    {
      // unfused: Adam's formula one primitive at a time (what the optimizer did before fusing)
      const model = modelWithGrads(device);
      const states = new Map([...model.params()].map((p) => [p, { m: zeros(p.data.shape, 'float32', device), v: zeros(p.data.shape, 'float32', device) }]));
      let t = 0;
      const op = (expr: ReturnType<typeof input>, xs: NDArray[], s: number[] = [], outs?: NDArray[]) => elementwise([expr], xs, s, { outs })[0];
      out.push({
        name: 'kusari unfused',
        counted: true,
        async step() {
          t += 1;
          const alphaT = ADAM.alpha * Math.sqrt(1 - ADAM.beta2 ** t) / (1 - ADAM.beta1 ** t);
          scope(() => {
            for (const p of model.params()) {
              const { m, v } = states.get(p)!, g = p.grad!;
              const d = op(input(0).sub(input(1)), [g, m]);
              op(input(0).add(scalar(0).mul(input(1))), [m, d], [1 - ADAM.beta1], [m]);
              const g2 = op(input(0).mul(input(0)), [g]);
              const e = op(input(0).sub(input(1)), [g2, v]);
              op(input(0).add(scalar(0).mul(input(1))), [v, e], [1 - ADAM.beta2], [v]);
              const den = op(input(0).sqrt().add(scalar(0)), [v], [ADAM.eps]);
              const r = op(input(0).div(input(1)), [m, den]);
              op(input(0).sub(scalar(0).mul(input(1))), [p.data, r], [alphaT], [p.data]);
            }
          });
          await finished(device);
        },
      });
    }
    {
      const model = modelWithGrads(device);
      const adam = new optimizers.Adam(ADAM.alpha, ADAM.beta1, ADAM.beta2, ADAM.eps);
      adam.setup(model);
      out.push({ name: 'kusari fused (optimizers.Adam)', counted: true, async step() { adam.update(); await finished(device); } });
    }
    if (jax !== null) out.push(jaxAdam(jax));
    return out;
  },
};

// ---- jax-js -----------------------------------------------------------------------------------

type JaxArray = import('@jax-js/jax').Array;
type Np = Jax['numpy'];
type Nn = Jax['nn'];

/**
 * jax-js `jit` of the chain (forward), or of its gradient with respect to every input for an
 * output gradient of ones (the gradient of the sum). Arrays are reference-counted: a use
 * consumes a reference, so reused arrays pass `.ref`.
 */
function jaxChain(jax: Jax, mode: Mode, fn: (np: Np, nn: Nn, xs: JaxArray[]) => JaxArray, raw: Float32Array<ArrayBuffer>[], shapes: number[][]): Contender {
  const { numpy: np, nn } = jax;
  const xs = raw.map((r, k) => np.array(r).reshape(shapes[k]));
  const argnums = xs.map((_, k) => k);
  const compiled = mode === 'forward'
    ? jax.jit((...a: JaxArray[]) => fn(np, nn, a))
    : jax.jit((...a: JaxArray[]) => jax.grad((...b: JaxArray[]) => fn(np, nn, b).sum(), { argnums })(...a) as unknown as JaxArray[]);
  return {
    name: 'jax-js jit',
    counted: false,
    async step() {
      const result = (compiled as (...a: JaxArray[]) => JaxArray | JaxArray[])(...xs.map((x) => x.ref));
      await jax.blockUntilReady(result);
      jax.tree.dispose(result);
    },
    dispose() { for (const x of xs) x.dispose(); compiled.dispose(); },
  };
}

/** jax-js `jit` of Adam over the MLP's parameters, gradients and moments. */
function jaxAdam(jax: Jax): Contender {
  const { numpy: np } = jax;
  const shapes = ADAM_SIZES.slice(1).flatMap((out, k) => [[out, ADAM_SIZES[k]], [out]]);
  let seed = 30;
  let params = shapes.map((s) => np.array(randoms(s.reduce((a, b) => a * b, 1), 100 + seed++, 0.05)).reshape(s));
  const grads = shapes.map((s) => np.array(randoms(s.reduce((a, b) => a * b, 1), seed++, 0.01)).reshape(s));
  let ms = shapes.map((s) => np.zeros(s)), vs = shapes.map((s) => np.zeros(s));
  const update = (p: JaxArray[], g: JaxArray[], m: JaxArray[], v: JaxArray[], alphaT: JaxArray) => {
    const m2 = m.map((mk, k) => mk.add(g[k].ref.sub(mk.ref).mul(1 - ADAM.beta1)));
    const v2 = v.map((vk, k) => vk.add(g[k].ref.mul(g[k].ref).sub(vk.ref).mul(1 - ADAM.beta2)));
    const p2 = p.map((pk, k) => pk.sub(alphaT.ref.mul(m2[k].ref).div(np.sqrt(v2[k].ref).add(ADAM.eps))));
    alphaT.dispose();
    for (const gk of g) gk.dispose();
    return [p2, m2, v2];
  };
  const compiled = jax.jit(update);
  let t = 0;
  return {
    name: 'jax-js jit',
    counted: false,
    async step() {
      t += 1;
      const alphaT = np.array(new Float32Array([ADAM.alpha * Math.sqrt(1 - ADAM.beta2 ** t) / (1 - ADAM.beta1 ** t)]));
      const [p, m, v] = compiled(params, grads.map((g) => g.ref), ms, vs, alphaT) as unknown as JaxArray[][];
      params = p; ms = m; vs = v;
      await jax.blockUntilReady([params, ms, vs]);
    },
    dispose() { jax.tree.dispose([params, grads, ms, vs]); compiled.dispose(); },
  };
}

// ---- the run ----------------------------------------------------------------------------------

interface Row {
  device: Device;
  workload: string;
  mode: Mode;
  contender: string;
  medianMs: number | null;
  /** kernel launches per step (kusari only) */
  dispatches: number | null;
  /** this contender's median over kusari unfused's, same workload, mode and device */
  overUnfused: number | null;
  samplesMs: number[];
  error?: string;
}

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: 'cpu,webgpu' },
    workloads: { type: 'string', default: 'b3,lstm,gelu,adam' },
    reps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    burst: { type: 'string', default: '1' },
    sessions: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '1800' },
  },
});
const reps = positiveInt(BENCH, 'reps', values.reps);
const warmup = positiveInt(BENCH, 'warmup', values.warmup);
const burst = positiveInt(BENCH, 'burst', values.burst);
const sessions = positiveInt(BENCH, 'sessions', values.sessions);
if (sessions > reps) throw new Error(`${BENCH}: --sessions ${sessions} exceeds --reps ${reps}: each session times at least one round`);

const ALL_WORKLOADS: Record<string, Workload[]> = {
  b3: [b3Workload('forward'), b3Workload('forward+backward')],
  lstm: [lstmWorkload('forward'), lstmWorkload('forward+backward')],
  gelu: [geluWorkload('forward'), geluWorkload('forward+backward')],
  adam: [adamWorkload],
};
const WORKLOADS: Workload[] = values.workloads.split(',').map((w) => w.trim()).filter((w) => w !== '').flatMap((w) => {
  const found = ALL_WORKLOADS[w];
  if (found === undefined) throw new Error(`${BENCH}: unknown workload '${w}' (known: ${Object.keys(ALL_WORKLOADS).join(', ')})`);
  return found;
});

const { devices, gpu, loadBefore } = await startBench(BENCH, values);
const unavailable: string[] = [];
const rows: Row[] = [];
for (const device of devices) {
  let jax: Jax | null = null;
  const stops: (() => void)[] = [];
  try {
    if (device === 'webgpu') {
      await useDevice(gpu!.adapter);
      stops.push(releaseWebGpu);
    }
    const jaxDevice = device === 'cpu' ? 'wasm' : 'webgpu';
    try {
      const j = await import('@jax-js/jax');
      if (!(await j.init(jaxDevice)).includes(jaxDevice)) throw new Error(`init('${jaxDevice}') did not start the ${jaxDevice} device`);
      j.defaultDevice(jaxDevice);
      jax = j;
      if (jaxDevice === 'webgpu') stops.push(() => j.getWebGPUDevice().destroy());
    } catch (e) {
      unavailable.push(`jax-js ${jaxDevice}: ${errorText(e)}`);
    }
    for (const w of WORKLOADS) {
      const samples = new Map<string, number[]>();
      const errors = new Map<string, string>();
      const dispatches = new Map<string, number>();
      let names: string[] = [];
      let setupError: string | null = null;
      // each session on a fresh kusari device (see --sessions), its reps' share of the timed rounds
      for (let session = 0; session < sessions; session++) {
        if (device === 'webgpu' && session > 0) await useDevice(gpu!.gpu);
        let contenders: Contender[];
        try {
          contenders = w.make(device, jax, fuse, gpu);
        } catch (e) {
          setupError = errorText(e);
          break;
        }
        names = contenders.map((c) => c.name);
        for (const name of names) if (!samples.has(name)) samples.set(name, []);
        const byName = new Map(contenders.map((c) => [c.name, c]));
        const share = Math.floor(reps / sessions) + (session < reps % sessions ? 1 : 0);
        await rounds(names, warmup, share, async (name, timed) => {
          if (errors.has(name)) return;
          try {
            const start = performance.now();
            await byName.get(name)!.step();
            if (timed) samples.get(name)!.push(performance.now() - start);
          } catch (e) {
            errors.set(name, errorText(e));
          }
        }, burst);
        for (const c of contenders) {
          if (!c.counted || errors.has(c.name)) continue;
          const before = launches(device);
          try {
            await c.step();
            dispatches.set(c.name, launches(device) - before);
          } catch (e) {
            errors.set(c.name, errorText(e));
          }
        }
        for (const c of contenders) safely(() => c.dispose?.());
      }
      if (setupError !== null) {
        rows.push({ device, workload: w.name, mode: w.mode, contender: 'setup', medianMs: null, dispatches: null, overUnfused: null, samplesMs: [], error: setupError });
        continue;
      }
      const med = (name: string) => (errors.has(name) || samples.get(name)!.length === 0 ? null : median(samples.get(name)!));
      const unfused = med('kusari unfused');
      for (const name of names) {
        const m = med(name);
        rows.push({
          device, workload: w.name, mode: w.mode, contender: name, medianMs: m, dispatches: dispatches.get(name) ?? null,
          overUnfused: m === null || unfused === null ? null : m / unfused, samplesMs: samples.get(name)!, error: errors.get(name),
        });
      }
    }
  } finally {
    for (const s of stops) safely(s);
  }
}

// ---- the report -------------------------------------------------------------------------------

const versions = peerVersions(devices, { tfjs: false });
const bursts = burst === 1 ? 'one step per contender in turn' : `${burst} steps in a row per contender in turn, the first untimed`;
const inSessions = sessions === 1 ? '' : ` over ${sessions} sessions (a fresh kusari device each on WebGPU)`;
printHeading(`Fusion benchmark: median ms per step (${bursts}) after ${warmup} warm-up rounds, ${reps} timed${inSessions}; GPU work finished before the clock stops`, versions);
if (fuse === null) console.log("! kusari's fuse(fn) is not exported yet: no 'kusari fused' rows except the optimizer's own");
for (const device of devices) {
  console.log(deviceHeading(device, gpu));
  console.log(['workload'.padEnd(34), 'mode'.padEnd(18), 'contender'.padEnd(32), 'ms'.padStart(10), 'dispatches'.padStart(12), '/unfused'.padStart(10)].join(''));
  for (const r of rows.filter((x) => x.device === device)) {
    const ms = r.medianMs === null ? `failed: ${r.error ?? ''}` : r.medianMs.toFixed(2);
    console.log([
      r.workload.padEnd(34), r.mode.padEnd(18), r.contender.padEnd(32), ms.padStart(10),
      (r.dispatches === null ? '-' : String(r.dispatches)).padStart(12), (r.overUnfused === null ? '-' : r.overUnfused.toFixed(2)).padStart(10),
    ].join(''));
  }
}
finishBench(BENCH, { loadBefore, versions, gpu, unavailable, problems: [], results: rows, extra: { fuseAvailable: fuse !== null, burst, sessions } });
