// Declared fused kernels (what generated code calls) and precompile(): pipelines made before the first step.

import { exprsFromJSON, type SerializedExprs } from '../../compiler/serialize.js';
import { countLeaves, input, substitute, topoSort, type Expr } from '../../compiler/expr.js';
import { chainName } from '../../compiler/fusion/chain.js';
import { backendOf } from '../array/backend.js';
import { elementwise, zeros } from '../array/xp.js';
import { NDArray, sameShape, type Device, type DType } from '../array/ndarray.js';
import { Variable, describe } from '../graph/variable.js';
import { Elementwise, backwardRoots, storedDerivativeRoots } from '../ops/elementwise.js';
import { precompileInBackground } from './background.js';
import { checkSteps, parseSteps } from './steps.js';

/** A chain declared ahead of time: its IR (serialized or built), named by the program. */
export interface FusedKernelSpec {
  readonly name: string;
  /** K output expressions over input(0..n-1) and scalar(0..m-1), or their exprsToJSON form */
  readonly ir: SerializedExprs | readonly Expr[];
  /** the inputs' dtype (default float32 for every input) */
  readonly dtype?: DType;
  /**
   * The forward kernel's name as the build rendered it (`fused_<ops>_<hash>`): checked at
   * definition, so a runtime that renders this IR differently from the build that recorded it
   * (a version skew) fails loudly instead of compiling kernels nobody precompiled.
   */
  readonly kernel?: string;
  /**
   * The chain's ops in evaluation order, `'op(arg=ref, ...)'` with ref i<k> input k, s<k>
   * scalar k, t<k> op k's value: apply() checks each as the unfused op does, so a bad shape
   * throws the op's own message. Without steps, apply() checks the kernel as one node.
   */
  readonly steps?: readonly string[];
  /** with steps: which step each of the K outputs is */
  readonly outputs?: readonly number[];
  /** user ElementwiseKernels in the chain, as their constructor strings; steps '@k(...)' refer to kernels[k] */
  readonly kernels?: readonly (readonly string[])[];
}

/** A declared kernel: call it with the n arrays then the m numbers its IR reads. */
export interface FusedKernel {
  readonly name: string;
  readonly roots: readonly Expr[];
  readonly inputs: number;
  readonly scalars: number;
  /** The K outputs, as one Elementwise node of the graph (one dispatch each way). */
  apply(...args: (Variable | NDArray | number)[]): Variable[];
  /** A chain of getArrayModule functions: NDArrays in, the K NDArrays out (one dispatch, no graph). */
  applyArrays(...args: (NDArray | number)[]): NDArray[];
}

const DECLARED: { kernel: FusedKernel; dtype: DType }[] = [];

/**
 * Declare a fused kernel, as the build-time transform emits at module load; `precompile()`
 * then creates its pipelines (forward and backward) before any step runs.
 *
 * ```ts
 * const b3 = defineFusedKernel({ name: 'b3', ir: [input(0).mul(input(1)).add(input(2)).tanh()] });
 * await precompile();
 * const [y] = b3.apply(x, a, b);
 * ```
 */
export function defineFusedKernel(spec: FusedKernelSpec): FusedKernel {
  const roots = Array.isArray(spec.ir) ? spec.ir as readonly Expr[] : exprsFromJSON(spec.ir, `defineFusedKernel ${spec.name}`);
  const { inputs, scalars } = countLeaves(roots);
  const label = spec.name;
  if (spec.kernel !== undefined) {
    const here = chainName(roots, inputs);
    if (here !== spec.kernel) {
      throw new Error(`defineFusedKernel ${label}: the build recorded kernel ${spec.kernel} but this runtime renders ${here}; the code was built by another version of kusari than the one running it: rebuild it`);
    }
  }
  const steps = spec.steps === undefined ? null : parseSteps(label, spec.steps, inputs, scalars, spec.kernels);
  const outputSteps = spec.outputs ?? null;
  if (steps !== null && (outputSteps === null || outputSteps.length !== roots.length || outputSteps.some((k) => !(Number.isInteger(k) && k >= 0 && k < steps.length)))) {
    throw new Error(`defineFusedKernel ${label}: steps need outputs, one step index (0..${steps.length - 1}) per output (${roots.length}), got ${JSON.stringify(spec.outputs)}`);
  }
  const names = Array.from({ length: inputs }, (_, i) => `x${i}`);
  const kernel: FusedKernel = {
    name: spec.name, roots, inputs, scalars,
    apply(...args) {
      if (args.length !== inputs + scalars) {
        throw new Error(`${label}: expected ${inputs} array(s) then ${scalars} number(s), got ${args.length} argument(s)`);
      }
      const arrays = args.slice(0, inputs) as (Variable | NDArray)[];
      const nums = args.slice(inputs) as number[];
      if (steps === null) {
        args.forEach((a, i) => {
          const want = i < inputs ? 'a Variable or NDArray' : 'a number';
          const ok = i < inputs ? a instanceof Variable || a instanceof NDArray : typeof a === 'number';
          if (!ok) throw new Error(`${label}: argument ${i} must be ${want}, got ${describe(a)}`);
        });
        return new Elementwise(label, roots, nums, names).apply(arrays);
      }
      // each op's checks, as unfused code makes them, before anything runs
      const checked = checkSteps(steps, arrays, nums);
      const shapes = outputSteps!.map((k) => checked.shapes[k]);
      const dtypes = outputSteps!.map((k) => checked.dtypes[k]);
      if (shapes.every((s) => sameShape(s, shapes[0]))) return new Elementwise(label, roots, nums, names, dtypes).apply(arrays);
      // a kernel writes all its outputs at one shape: outputs of other shapes run as kernels of their own
      const out: Variable[] = [];
      for (const { group, sub, used } of groupByShape(roots, shapes)) {
        const ys = new Elementwise(label, sub, nums, used.map((k) => names[k]), group.map((j) => dtypes[j])).apply(used.map((k) => arrays[k]));
        group.forEach((j, k) => (out[j] = ys[k]));
      }
      return out;
    },
    applyArrays(...args) {
      if (steps === null || !steps.every((s) => s.module === true)) {
        throw new Error(`${label}: applyArrays() runs chains of getArrayModule functions; this kernel was declared for ${steps === null ? 'apply() (no steps)' : 'the graph (use apply())'}`);
      }
      if (args.length !== inputs + scalars) {
        throw new Error(`${label}: expected ${inputs} array(s) then ${scalars} number(s), got ${args.length} argument(s)`);
      }
      const arrays = args.slice(0, inputs) as NDArray[];
      const nums = args.slice(inputs) as number[];
      const checked = checkSteps(steps, arrays, nums);
      const shapes = outputSteps!.map((k) => checked.shapes[k]);
      const dtypes = outputSteps!.map((k) => checked.dtypes[k]);
      const out: NDArray[] = [];
      for (const { shape, group, sub, used } of groupByShape(roots, shapes)) {
        const ds = group.map((j) => dtypes[j]);
        const opts = ds.every((d) => d === ds[0])
          ? { dtype: ds[0], op: label }
          : { outs: ds.map((d) => zeros(shape, d, arrays[used[0]].device)), op: label };
        const ys = elementwise(sub, used.map((k) => arrays[k]), nums, opts);
        group.forEach((j, k) => (out[j] = ys[k]));
      }
      return out;
    },
  };
  const entry = { kernel, dtype: spec.dtype ?? 'float32' };
  DECLARED.push(entry);
  // its pipelines start now if a WebGPU device exists, else when one is acquired
  precompileInBackground(() => precompileKernel(entry, 'webgpu'));
  return kernel;
}

/**
 * Create every declared kernel's pipelines on `device` (default webgpu): the forward and the
 * backward that computes every input's gradient, whatever the shapes (and, for a chain whose
 * forward stores its local derivative, that forward and its gy * d backward). Resolves to how many
 * pipelines were created now (0 on the CPU, whose loops compile in microseconds).
 */
export async function precompile(device: Device = 'webgpu'): Promise<number> {
  let made = 0;
  for (const entry of DECLARED) made += await precompileKernel(entry, device);
  return made;
}

/** One declared kernel's pipelines, forward and backward (also what runs in the background). */
async function precompileKernel({ kernel, dtype }: { kernel: FusedKernel; dtype: DType }, device: Device): Promise<number> {
  const backend = backendOf(device);
  const ins = new Array<DType>(kernel.inputs).fill(dtype);
  // both started before either is awaited: the driver may compile them side by side
  const forward = backend.precompile(kernel.roots, ins, kernel.roots.map(() => dtype));
  const back = backwardRoots(kernel.roots, kernel.roots.map(() => dtype), kernel.inputs);
  const backward = back === null ? 0 : backend.precompile(back.roots, back.used.map(() => dtype), back.roots.map(() => dtype));
  // a call whose forward stores dy/dx runs two other kernels (ops/elementwise.ts decides per call)
  const st = storedDerivativeRoots(kernel.roots, kernel.inputs);
  const stored = st === null ? [] : [
    backend.precompile(st.forward, ins, st.forward.map(() => dtype)),
    backend.precompile(st.backward, [dtype, ...ins], st.backward.map(() => dtype)),
  ];
  const made = await Promise.all([forward, backward, ...stored]);
  return made.reduce((p, q) => p + q, 0);
}

/**
 * The outputs split by shape (a kernel writes all its outputs at one shape): per shape, which
 * outputs, their roots over only the inputs they read (renumbered), and which inputs those are.
 */
function groupByShape(roots: readonly Expr[], shapes: readonly (readonly number[])[]) {
  return shapes.filter((s, j) => shapes.findIndex((t) => sameShape(s, t)) === j).map((shape) => {
    const group = shapes.map((s, j) => (sameShape(s, shape) ? j : -1)).filter((j) => j >= 0);
    const own = group.map((j) => roots[j]);
    const used = [...new Set(topoSort(own).filter((e) => e.op === 'input').map((e) => e.value))].sort((a, b) => a - b);
    const remap: Expr[] = [];
    used.forEach((k, j) => (remap[k] = input(j)));
    return { shape, group, sub: substitute(own, remap), used };
  });
}
