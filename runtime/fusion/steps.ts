// A declared kernel's ops, checked one by one as each unfused op checks itself, so a fused chain's errors name the same op and argument.

import { deviceOf } from '../array/backend.js';
import { NDArray, broadcastShapes, type Device, type DType } from '../array/ndarray.js';
import { Variable, describe, type VariableLike } from '../graph/variable.js';
import { ELEMENTWISE_OPS, elementwiseDtype, type ElementwiseDef } from '../ops/elementwise.js';
import { resultDtype } from '../array/xp.js';
import { ElementwiseKernel } from '../kernels/elementwise-kernel.js';
import { bindArgs, typeOf } from '../kernels/params.js';

/** Where one argument of an op comes from: input k, scalar k, or step k's value (null: a scalar the IR dropped). */
type Ref = { readonly kind: 'i' | 's' | 't'; readonly index: number } | null;

export interface Step {
  readonly def: ElementwiseDef;
  readonly args: readonly { readonly name: string; readonly ref: Ref }[];
  /** a user kernel's step: the kernel, checked as its call() checks (def is then a stand-in) */
  readonly kernel?: ElementwiseKernel;
  /** an array-module function's step ('xp.add(a0=i0, a1=s0)'), checked as that function checks (def is a stand-in) */
  readonly module?: boolean;
}

/** What the checks found: every step's shape, dtype and device (outputs take theirs from these). */
export interface Checked {
  readonly shapes: readonly (readonly number[])[];
  readonly dtypes: readonly DType[];
}

/**
 * Parse 'op(arg=ref, ...)' steps (ref i<k>, s<k>, t<k>, or _ for a number the IR does not
 * read) against the op table: an unknown op, an argument list that is not the row's, or a
 * reference out of range is an error naming the kernel, never a kernel that checks less.
 */
export function parseSteps(label: string, steps: readonly string[], inputs: number, scalars: number, kernels: readonly (readonly string[])[] = []): Step[] {
  const built = kernels.map((k, j) => {
    if (!Array.isArray(k) || k.length !== 4 || k.some((x) => typeof x !== 'string')) {
      throw new Error(`defineFusedKernel ${label}: kernels[${j}] must be [inParams, outParams, body, name] strings, got ${JSON.stringify(k)}`);
    }
    return new ElementwiseKernel(k[0], k[1], k[2], k[3]);
  });
  return steps.map((text, j) => {
    const fail = (why: string): never => { throw new Error(`defineFusedKernel ${label}: step ${j} ${JSON.stringify(text)}: ${why}`); };
    const m = /^(@\d+|xp\.[A-Za-z_$][\w$]*|[A-Za-z_$][\w$]*)\((.*)\)$/.exec(text);
    if (m === null) return fail("expected 'op(arg=ref, ...)'");
    const kernel = m[1].startsWith('@') ? built[Number(m[1].slice(1))] ?? fail(`${m[1]} is not one of the ${built.length} kernel(s) declared`) : undefined;
    const module = m[1].startsWith('xp.');
    if (module) {
      const parts = m[2].trim() === '' ? [] : m[2].split(',').map((p) => p.trim());
      const args = parts.map((p, k) => {
        const a = /^a(\d+)=(?:([ist])(\d+)|_)$/.exec(p) ?? fail(`argument ${k}: expected a<k>=ref, got ${p}`);
        if (Number(a[1]) !== k) fail(`argument ${k} is named a${a[1]}`);
        if (a[2] === undefined) return { name: `a${k}`, ref: null };
        const kind = a[2] as 'i' | 's' | 't', index = Number(a[3]);
        if (index >= (kind === 'i' ? inputs : kind === 's' ? scalars : j)) fail(`${p} is out of range`);
        return { name: `a${k}`, ref: { kind, index } };
      });
      const name = m[1].slice(3);
      return { def: { name, args: args.map((a) => a.name), build: () => { throw new Error('unused'); } }, args, module: true };
    }
    const def: ElementwiseDef = kernel !== undefined
      ? { name: kernel.name, args: kernel.inParams.map((p) => p.name), build: () => { throw new Error('unused'); } }
      : ELEMENTWISE_OPS.get(m[1])?.def ?? fail(`unknown op ${m[1]} (not in this runtime's op table)`);
    const parts = m[2].trim() === '' ? [] : m[2].split(',').map((p) => p.trim());
    if (parts.length !== def.args.length) fail(`${def.name} takes ${def.args.length} argument(s) (${def.args.join(', ')})`);
    const args = parts.map((p, k) => {
      const a = /^([A-Za-z_$][\w$]*)=(?:([ist])(\d+)|_)$/.exec(p) ?? fail(`argument ${k}: expected name=ref, got ${p}`);
      if (a[1] !== def.args[k]) fail(`argument ${k} is ${def.args[k]} in the op table, not ${a[1]}`);
      if (a[2] === undefined) return { name: a[1], ref: null };
      const kind = a[2] as 'i' | 's' | 't', index = Number(a[3]);
      const bound = kind === 'i' ? inputs : kind === 's' ? scalars : j;
      if (index >= bound) fail(`${p} is out of range (${kind === 't' ? `only ${j} earlier step(s)` : `${bound} ${kind === 'i' ? 'input' : 'scalar'}(s)`})`);
      return { name: a[1], ref: { kind, index } };
    });
    return kernel === undefined ? { def, args } : { def, args, kernel };
  });
}

/**
 * Check every op of the chain in evaluation order as the unfused op would: each argument's
 * kind, the op's own number checks, broadcasting, devices and float dtypes, with the op's
 * name and argument names in every message. Nothing runs before all of them pass.
 */
export function checkSteps(steps: readonly Step[], arrays: readonly (Variable | NDArray)[], scalars: readonly number[]): Checked {
  const shapes: (readonly number[])[] = [], dtypes: DType[] = [], devices: Device[] = [];
  const dataOf = (a: Variable | NDArray): NDArray => (a instanceof Variable ? a.data : a);
  for (const step of steps) {
    const { def } = step;
    if (step.module === true) {
      const k = moduleStep(step, arrays, scalars, shapes, dtypes, devices);
      shapes.push(k.shape);
      dtypes.push(k.dtype);
      devices.push(k.device);
      continue;
    }
    if (step.kernel !== undefined) {
      const k = userKernel(step, step.kernel, arrays, scalars, shapes, dtypes, devices);
      shapes.push(k.shape);
      dtypes.push(k.dtype);
      devices.push(k.device);
      continue;
    }
    const values: unknown[] = [];
    const info: { name: string; shape: readonly number[]; dtype: DType; device: Device; array: NDArray | null }[] = [];
    const nums: number[] = [];
    for (const { name, ref } of step.args) {
      const kind = def.kinds?.[name] ?? 'either';
      if (ref === null) { values.push(undefined); continue; }
      if (ref.kind === 's') {
        const v = scalars[ref.index];
        if (typeof v !== 'number' || kind === 'array') {
          throw new Error(`${def.name}: argument ${name} must be ${kind === 'array' ? 'a Variable or NDArray' : 'a number'}, got ${describe(v)}`);
        }
        values.push(v);
        nums.push(v);
      } else if (ref.kind === 'i') {
        const a = arrays[ref.index];
        if (!(a instanceof Variable || a instanceof NDArray) || kind === 'number') {
          throw new Error(`${def.name}: argument ${name} must be ${kind === 'number' ? 'a number' : kind === 'array' ? 'a Variable or NDArray' : 'a Variable, NDArray or number'}, got ${describe(a)}`);
        }
        values.push(a);
        const d = dataOf(a);
        info.push({ name, shape: a.shape, dtype: a.dtype, device: d.device, array: d });
      } else {
        values.push(undefined); // an earlier op's value: the number checks below never read arrays
        info.push({ name, shape: shapes[ref.index], dtype: dtypes[ref.index], device: devices[ref.index], array: null });
      }
    }
    def.check?.(...(values as VariableLike[]));
    const names = info.map((i) => i.name);
    const shape = broadcastShapes(info.map((i) => i.shape), def.name, names);
    // the device check reads arrays: an earlier op's value stands in as an empty array on its device
    const device = deviceOf(info.map((i) => i.array ?? ({ device: i.device } as NDArray)), def.name, names);
    const dtype = elementwiseDtype(def.name, names, info.map((i) => i.dtype), def.intClosed === true, nums);
    shapes.push(shape);
    devices.push(device);
    dtypes.push(dtype);
  }
  return { shapes, dtypes };
}

/**
 * A user kernel's step, checked as its call() checks: the arguments bound to its parameters
 * (types, placeholders) under 'ElementwiseKernel <name>', then broadcasting and devices under
 * its name, as the graph node it would have been. An earlier op's value stands in as an empty
 * array of that op's dtype, shape and device.
 */
function userKernel(
  step: Step, kernel: ElementwiseKernel, arrays: readonly (Variable | NDArray)[], scalars: readonly number[],
  shapes: readonly (readonly number[])[], dtypes: readonly DType[], devices: readonly Device[],
): { shape: number[]; dtype: DType; device: Device } {
  const values = step.args.map(({ ref }) => {
    if (ref === null) return undefined;
    if (ref.kind === 's') return scalars[ref.index];
    if (ref.kind === 'i') return arrays[ref.index];
    return Object.create(NDArray.prototype, {
      dtype: { value: dtypes[ref.index] }, shape: { value: shapes[ref.index] }, device: { value: devices[ref.index] },
    }) as NDArray;
  });
  const label = `ElementwiseKernel ${kernel.name}`;
  const b = bindArgs(label, kernel.inParams, values);
  const dtype = typeOf(label, kernel.outParams[0], b);
  const shape = broadcastShapes(b.arrays.map((a) => a.shape), kernel.name, b.arrayNames);
  const device = deviceOf(b.arrays.map((a) => (a instanceof Variable ? a.data : a)), kernel.name, b.arrayNames);
  return { shape, dtype, device };
}

/**
 * An array-module function's step, checked as getArrayModule's functions check: every operand
 * an NDArray or a number, then broadcasting, devices and dtypes under the function's name.
 */
function moduleStep(
  step: Step, arrays: readonly (Variable | NDArray)[], scalars: readonly number[],
  shapes: readonly (readonly number[])[], dtypes: readonly DType[], devices: readonly Device[],
): { shape: number[]; dtype: DType; device: Device } {
  const op = step.def.name;
  const info: { shape: readonly number[]; dtype: DType; array: NDArray }[] = [];
  for (const { ref } of step.args) {
    if (ref === null) continue;
    const v: unknown = ref.kind === 's' ? scalars[ref.index] : ref.kind === 'i' ? arrays[ref.index] : null;
    if (ref.kind === 't') {
      info.push({ shape: shapes[ref.index], dtype: dtypes[ref.index], array: { device: devices[ref.index] } as NDArray });
    } else if (typeof v === 'number') {
      if (ref.kind === 'i') throw new Error(`${op}: operands must be NDArrays or numbers, got ${typeof v}`);
    } else if (v instanceof NDArray) {
      info.push({ shape: v.shape, dtype: v.dtype, array: v });
    } else {
      throw new Error(`${op}: operands must be NDArrays or numbers, got ${typeof v}`);
    }
  }
  const shape = broadcastShapes(info.map((i) => i.shape), op);
  const device = deviceOf(info.map((i) => i.array), op);
  return { shape, dtype: resultDtype(info.map((i) => ({ dtype: i.dtype }) as NDArray), op), device };
}
