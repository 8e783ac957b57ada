// User-defined kernels (CuPy's ElementwiseKernel and ReductionKernel), on every device.

export { ElementwiseKernel } from './elementwise-kernel.js';
export { ReductionKernel, type ReduceOptions } from './reduction-kernel.js';
export type { KernelArg } from './params.js';
