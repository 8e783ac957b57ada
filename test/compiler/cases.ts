// Representative kernels shared by the compiler tests: the fused chain, an Adam update, a reduction.

import { Expr, constant, input, scalar } from '../../compiler/expr.js';
import { collapse, type Layout } from '../../compiler/js.js';
import { array } from '../../runtime/array/xp.js';
import type { NDArray } from '../../runtime/array/ndarray.js';

const [x, w, b, z] = [0, 1, 2, 3].map(input);

/** 1 / (1 + e^-e), written out so the chain has no sigmoid primitive to lean on. */
export const sigmoid = (e: Expr): Expr => constant(1).div(e.neg().exp().add(1));

/** y = tanh(x w + b) * sigmoid(z) - exp(-x^2) / (1 + |z|): 15 ops over 4 inputs, b broadcast. */
export const CHAIN = x.mul(w).add(b).tanh().mul(sigmoid(z)).sub(x.mul(x).neg().exp().div(z.abs().add(1)));

/**
 * Chainer's Adam step over param (0), grad (1), m (2), v (3) with scalars lr (0), beta1 (1),
 * beta2 (2), eps (3): three outputs from one loop, the new m and v reused by the param update.
 */
export function adamUpdate(): Expr[] {
  const [param, grad, m, v] = [0, 1, 2, 3].map(input);
  const [lr, beta1, beta2, eps] = [0, 1, 2, 3].map(scalar);
  const m2 = m.add(constant(1).sub(beta1).mul(grad.sub(m)));
  const v2 = v.add(constant(1).sub(beta2).mul(grad.mul(grad).sub(v)));
  return [param.sub(lr.mul(m2).div(v2.sqrt().add(eps))), m2, v2];
}

const data = (n: number, f: (i: number) => number) => array(Float32Array.from({ length: n }, (_, i) => f(i)));

/** An elementwise kernel to render, with inputs to run it on. */
export interface ElementwiseCase {
  name: string;
  roots: Expr[];
  inputs: NDArray[];
  scalars: number[];
  shape: number[];
}

export const ELEMENTWISE_CASES: ElementwiseCase[] = [
  { name: 'tanh', roots: [x.tanh()], inputs: [data(24, (i) => 0.5 * i - 6)], scalars: [], shape: [24] },
  {
    name: 'add-broadcast', roots: [x.add(w)], scalars: [], shape: [4, 6],
    inputs: [data(24, (i) => Math.sin(i)).reshape([4, 6]), data(6, (i) => i - 2.5)],
  },
  {
    name: 'chain', roots: [CHAIN], scalars: [], shape: [4, 6],
    inputs: [
      data(24, (i) => Math.sin(1.3 * i)).reshape([4, 6]),
      data(24, (i) => Math.cos(0.7 * i) * 1.5).reshape([4, 6]),
      data(6, (i) => 0.25 * i - 0.6),
      data(24, (i) => Math.sin(0.4 * i + 1) * 2).reshape([4, 6]),
    ],
  },
  {
    name: 'adam', roots: adamUpdate(), scalars: [1e-3, 0.9, 0.999, 1e-8], shape: [24],
    inputs: [
      data(24, (i) => Math.sin(i)), data(24, (i) => Math.cos(i)),
      data(24, (i) => 0.1 * Math.sin(2 * i)), data(24, (i) => 0.01 * (1 + Math.cos(3 * i))),
    ],
  },
];

/** A reduction to render: max of |x| over the rows, so the reduced dim is the strided one. */
export const REDUCE_CASE = { name: 'max-reduce', op: 'max' as const, map: x.abs(), input: data(24, (i) => Math.sin(2.3 * i) * 3).reshape([4, 6]), axes: [0] };

/** The collapsed layout the CPU backend would use: inputs broadcast, outputs contiguous. */
export function layoutOf(c: ElementwiseCase): Layout {
  const contiguous = c.shape.map((_, d) => c.shape.slice(d + 1).reduce((p, q) => p * q, 1));
  const operands = c.inputs.map((a) => a.broadcastTo(c.shape));
  return collapse({
    shape: c.shape.slice(),
    strides: [...operands.map((a) => a.strides.slice()), ...c.roots.map(() => contiguous)],
    offsets: [...operands.map((a) => a.offset), ...c.roots.map(() => 0)],
  });
}
