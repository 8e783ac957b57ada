// Declared fused kernels (what generated code calls) and precompile(): pipelines made before the first step.

import { exprsFromJSON, type SerializedExprs } from '../../compiler/serialize.js';
import { countLeaves, type Expr } from '../../compiler/expr.js';
import { backendOf } from '../array/backend.js';
import { NDArray, type Device, type DType } from '../array/ndarray.js';
import { Variable, describe } from '../graph/variable.js';
import { Elementwise, backwardRoots } from '../ops/elementwise.js';

/** A chain declared ahead of time: its IR (serialized or built), named by the program. */
export interface FusedKernelSpec {
  readonly name: string;
  /** K output expressions over input(0..n-1) and scalar(0..m-1), or their exprsToJSON form */
  readonly ir: SerializedExprs | readonly Expr[];
  /** the inputs' dtype (default float32 for every input) */
  readonly dtype?: DType;
}

/** A declared kernel: call it with the n arrays then the m numbers its IR reads. */
export interface FusedKernel {
  readonly name: string;
  readonly roots: readonly Expr[];
  readonly inputs: number;
  readonly scalars: number;
  /** The K outputs, as one Elementwise node of the graph (one dispatch each way). */
  apply(...args: (Variable | NDArray | number)[]): Variable[];
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
  const kernel: FusedKernel = {
    name: spec.name, roots, inputs, scalars,
    apply(...args) {
      if (args.length !== inputs + scalars) {
        throw new Error(`${label}: expected ${inputs} array(s) then ${scalars} number(s), got ${args.length} argument(s)`);
      }
      args.forEach((a, i) => {
        const want = i < inputs ? 'a Variable or NDArray' : 'a number';
        const ok = i < inputs ? a instanceof Variable || a instanceof NDArray : typeof a === 'number';
        if (!ok) throw new Error(`${label}: argument ${i} must be ${want}, got ${describe(a)}`);
      });
      const names = Array.from({ length: inputs }, (_, i) => `x${i}`);
      return new Elementwise(label, roots, args.slice(inputs) as number[], names).apply(args.slice(0, inputs) as (Variable | NDArray)[]);
    },
  };
  DECLARED.push({ kernel, dtype: spec.dtype ?? 'float32' });
  return kernel;
}

/**
 * Create every declared kernel's pipelines on `device` (default webgpu): the forward and the
 * backward that computes every input's gradient, whatever the shapes. Resolves to how many
 * pipelines were created now (0 on the CPU, whose loops compile in microseconds).
 */
export async function precompile(device: Device = 'webgpu'): Promise<number> {
  const backend = backendOf(device);
  let made = 0;
  for (const { kernel, dtype } of DECLARED) {
    const ins = new Array<DType>(kernel.inputs).fill(dtype);
    made += await backend.precompile(kernel.roots, ins, kernel.roots.map(() => dtype));
    const back = backwardRoots(kernel.roots, kernel.roots.map(() => dtype), kernel.inputs);
    if (back !== null) made += await backend.precompile(back.roots, back.used.map(() => dtype), back.roots.map(() => dtype));
  }
  return made;
}
