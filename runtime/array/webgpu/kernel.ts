// What the hand-written WGSL kernels share: assembly with a content-hashed name, and small helpers.

import { hash64, type ElementType, type WgslBinding, type WgslKernel } from '../../../compiler/wgsl.js';
import type { DType } from '../ndarray.js';

/** One storage buffer of a kernel, bound at its index in the operand list. */
export interface Operand { name: string; type: ElementType | 'vec4<f32>'; role: 'input' | 'output' }
export type Params = WgslKernel['params'];

/**
 * A kernel from its operands (bindings 0.., then the params), its Params fields and the
 * source after the declarations; named `<op>_<hash>`, the 64-bit hash of the source below its
 * header line, which is also what the pipeline cache keys on. `enable` directives go first.
 */
export function kernel(op: string, operands: readonly Operand[], params: Params, workgroupSize: number, body: string, enable: readonly string[] = []): WgslKernel {
  const bindings: WgslBinding[] = [
    ...operands.map((o, k): WgslBinding => ({ binding: k, name: o.name, role: o.role, access: o.role === 'input' ? 'read' : 'read_write' })),
    { binding: operands.length, name: 'p', role: 'params', access: 'uniform' },
  ];
  const S = [...enable.map((e) => `enable ${e};`), 'struct Params {', ...params.map((f) => `  ${f.name}: ${f.type},`), '}', ''];
  for (const b of bindings) {
    const decl = b.access === 'uniform' ? 'var<uniform> p: Params' : `var<storage, ${b.access}> ${b.name}: array<${operands[b.binding].type}>`;
    S.push(`@group(0) @binding(${b.binding}) ${decl};`);
  }
  const source = `${S.join('\n')}\n\n${body.trim()}\n`;
  const name = `${op}_${hash64(source)}`;
  return {
    name,
    source: `// ${name}: hand-written in kusari's runtime; do not edit.\n${source}`,
    entryPoint: 'main',
    workgroupSize,
    bindings,
    params,
  };
}

/** WebGPU's limit on workgroups per dispatch dimension. */
export const MAX_GROUPS = 65535;

export const u32 = (name: string) => ({ name, type: 'u32' as const });
export const f32 = (name: string) => ({ name, type: 'f32' as const });
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
export const elementType = (d: DType): ElementType => (d === 'int32' ? 'i32' : 'f32');

/** Workgroup size of the 1-D kernels. */
export const WG = 64;

/** The head of a 1-D kernel: invocation i of p.n, numbered as dispatchSize() lays out groups. */
export const flatMain = (wg = WG): string => `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${wg}u;
  if (i >= p.n) { return; }`;

/** `let <v>0.. = ...` from the flat index `from` over `rank` dims sized p.<size><d>, innermost fastest. */
export function decompose(v: string, from: string, rank: number, size: string): string {
  const L = [`var r${v} = ${from};`];
  for (let d = rank - 1; d > 0; d--) L.push(`let ${v}${d} = r${v} % p.${size}${d}; r${v} /= p.${size}${d};`);
  L.push(`let ${v}0 = r${v};`);
  return L.map((l) => `  ${l}`).join('\n');
}
