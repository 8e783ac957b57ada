// Kernel parameter lists ('float32 x, T y') and the binding of call-time arguments to them.

import { NDArray, type DType } from '../array/ndarray.js';
import { Variable, describe } from '../graph/variable.js';
import { sourceError } from './expression.js';

/** A declared parameter: a concrete dtype, or a placeholder (`T`) bound by the arrays passed. */
export interface Param {
  readonly name: string;
  readonly type: { readonly dtype: DType } | { readonly placeholder: string };
}

const DTYPES: Readonly<Record<string, DType>> = {
  float32: 'float32', float64: 'float64', int32: 'int32',
  // C's names, as CuPy kernels spell them
  float: 'float32', double: 'float64', int: 'int32',
};
const UNSUPPORTED = new Set([
  'float16', 'half', 'bool', 'int8', 'int16', 'int64', 'uint8', 'uint16', 'uint32', 'uint64',
  'long', 'short', 'char', 'complex64', 'complex128',
]);
const PLACEHOLDER = /^[A-Z][A-Za-z0-9_]*$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SUPPORTED = 'the types are float32, float64, int32 (or float, double, int) and capitalised placeholders such as T';

/** Parse `'float32 x, T y'`. `which` names the list in errors ('inParams', 'outParams'). */
export function parseParams(kernel: string, which: string, text: string): Param[] {
  const src = { kernel, text, part: which };
  const out: Param[] = [];
  if (text.trim() === '') throw new Error(`${kernel}: ${which} is empty; declare at least one parameter, e.g. 'float32 x'`);
  let start = 0;
  for (const entry of text.split(',')) {
    const at = (k: number) => start + k;
    const words = [...entry.matchAll(/\S+/g)].map((m) => ({ w: m[0], pos: at(m.index) }));
    start += entry.length + 1;
    if (words.length === 0) throw sourceError(src, at(0), 'empty parameter');
    if (words[0].w === 'raw') throw sourceError(src, words[0].pos, 'raw parameters are not supported', 'a kernel sees one element of each array');
    if (words.length === 1) {
      const only = words[0];
      if (Object.hasOwn(DTYPES, only.w) || PLACEHOLDER.test(only.w)) throw sourceError(src, only.pos, `parameter of type ${only.w} has no name`);
      throw sourceError(src, only.pos, `parameter '${only.w}' has no type`, `write it as 'float32 ${only.w}' or 'T ${only.w}'`);
    }
    if (words.length > 2) throw sourceError(src, words[2].pos, `unexpected '${words[2].w}'`, "a parameter is 'type name'");
    const [type, name] = words;
    if (!IDENTIFIER.test(name.w)) throw sourceError(src, name.pos, `'${name.w}' is not a valid parameter name`);
    if (out.some((p) => p.name === name.w)) throw sourceError(src, name.pos, `parameter '${name.w}' is declared twice`);
    let t: Param['type'];
    if (Object.hasOwn(DTYPES, type.w)) t = { dtype: DTYPES[type.w] };
    else if (UNSUPPORTED.has(type.w)) throw sourceError(src, type.pos, `type '${type.w}' is not supported`, SUPPORTED);
    else if (PLACEHOLDER.test(type.w)) t = { placeholder: type.w };
    else throw sourceError(src, type.pos, `unknown type '${type.w}'`, SUPPORTED);
    out.push({ name: name.w, type: t });
  }
  return out;
}

export type KernelArg = Variable | NDArray | number;

/** The arguments of one call, sorted into arrays and runtime scalars. */
export interface Bound {
  /** array arguments (NDArray or Variable), in parameter order */
  readonly arrays: readonly (Variable | NDArray)[];
  readonly arrayNames: readonly string[];
  /** number arguments, in parameter order: scalar(i) in the IR */
  readonly scalars: readonly number[];
  /** one letter per parameter, 'v' for an array and 's' for a number: the IR's cache key */
  readonly pattern: string;
  /** what each placeholder stands for in this call */
  readonly placeholders: ReadonlyMap<string, DType>;
  readonly anyVariable: boolean;
}

/**
 * Check `args` against `params` and sort them: the count, each argument's kind and dtype
 * (an int32 parameter takes int32 arrays and integers; a float one takes any array), and
 * that each placeholder stands for one dtype.
 */
export function bindArgs(kernel: string, params: readonly Param[], args: readonly unknown[]): Bound {
  if (args.length !== params.length) {
    throw new Error(`${kernel}: expected ${params.length} argument${params.length === 1 ? '' : 's'} (${params.map((p) => p.name).join(', ')}), got ${args.length}`);
  }
  const arrays: (Variable | NDArray)[] = [];
  const arrayNames: string[] = [];
  const scalars: number[] = [];
  const placeholders = new Map<string, { dtype: DType; from: string }>();
  let pattern = '';
  params.forEach((p, i) => {
    const a = args[i];
    if (typeof a === 'number') {
      pattern += 's';
      scalars.push(a);
      return;
    }
    if (!(a instanceof Variable || a instanceof NDArray)) {
      throw new Error(`${kernel}: argument ${p.name} must be an NDArray, Variable or number, got ${describe(a)}`);
    }
    pattern += 'v';
    arrays.push(a);
    arrayNames.push(p.name);
    if ('placeholder' in p.type) {
      const seen = placeholders.get(p.type.placeholder);
      if (seen === undefined) placeholders.set(p.type.placeholder, { dtype: a.dtype, from: p.name });
      else if (seen.dtype !== a.dtype) {
        throw new Error(`${kernel}: ${p.type.placeholder} is ${seen.dtype} from ${seen.from} but ${a.dtype} from ${p.name}`);
      }
    } else if (p.type.dtype === 'int32' && a.dtype !== 'int32') {
      throw new Error(`${kernel}: argument ${p.name} is a ${a.dtype} array but the parameter is int32`);
    }
  });
  if (arrays.length === 0) {
    throw new Error(`${kernel}: at least one argument must be an NDArray or Variable (the output's shape and device come from them)`);
  }
  const bound: Bound = {
    arrays, arrayNames, scalars, pattern,
    placeholders: new Map([...placeholders].map(([k, v]) => [k, v.dtype])),
    anyVariable: arrays.some((a) => a instanceof Variable),
  };
  params.forEach((p, i) => {
    const a = args[i];
    const dtype = 'dtype' in p.type ? p.type.dtype : bound.placeholders.get(p.type.placeholder);
    if (typeof a === 'number' && dtype === 'int32' && !Number.isInteger(a)) {
      const declared = 'dtype' in p.type ? 'int32' : `${p.type.placeholder}, int32 in this call`;
      throw new Error(`${kernel}: argument ${p.name} is ${a} but the parameter is ${declared}`);
    }
  });
  return bound;
}

/** The dtype a parameter has in this call. */
export function typeOf(kernel: string, p: Param, bound: Bound): DType {
  if ('dtype' in p.type) return p.type.dtype;
  const d = bound.placeholders.get(p.type.placeholder);
  if (d === undefined) {
    throw new Error(`${kernel}: cannot tell what ${p.type.placeholder} is (for ${p.name}): no array argument has type ${p.type.placeholder}`);
  }
  return d;
}

/** An output's placeholder must be bound by some input, as nothing else can bind it. */
export function checkOutputTypes(kernel: string, ins: readonly Param[], outs: readonly Param[]): void {
  for (const o of outs) {
    const t = 'placeholder' in o.type ? o.type.placeholder : null;
    if (t !== null && !ins.some((p) => 'placeholder' in p.type && p.type.placeholder === t)) {
      throw new Error(`${kernel}: output ${o.name} has type ${t}, which no input parameter has`);
    }
    if (ins.some((p) => p.name === o.name)) throw new Error(`${kernel}: '${o.name}' is both an input and an output parameter`);
  }
}
