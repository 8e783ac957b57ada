// kusari's public API: arrays, the graph, functions (F), links (L), optimizers, utilities.

import './graph/backward.js';
import './ops/index.js';

export { NDArray, type DType, type Device, type TypedArray } from './array/ndarray.js';
export { getArrayModule, scope, type ArrayModule } from './devices.js';
export { initWebGpu, useDevice, releaseWebGpu, memory, collect } from './array/webgpu/index.js';
export {
  array, zeros, ones, full, zerosLike, onesLike, arange, randomNormal, type NestedArray,
} from './array/xp.js';
export { randomUniform } from './array/random-uniform.js';
export { seed, random, RandomState } from './array/random.js';
export { Variable, FunctionNode, type VariableLike, type BackwardOptions } from './graph/variable.js';
export { config, usingConfig, noBackprop, testMode, type Config } from './graph/config.js';
export { buildComputationalGraph } from './graph/computational-graph.js';
export { checkBackward, checkDoubleBackward, type CheckOptions } from './gradient-check.js';
export * as F from './ops/index.js';
export * as L from './links/index.js';
export * as optimizers from './optimizers/index.js';
export * as training from './training/index.js';
export * as serializers from './serializers/index.js';
export { CaffeFunction, readCaffemodel, readPrototxt, type CaffeCallArgs, type CaffeFunctionOptions, type CaffeNet, type CaffeLayer, type CaffeBlob, type CaffeInput } from './caffe/index.js';
export { ElementwiseKernel, ReductionKernel, type ReduceOptions, type KernelArg } from './kernels/index.js';
export {
  fuse, defineFusedKernel, precompile, precompiled, compileStats, type Fused, type FusedKernel, type FusedKernelSpec, type CompileStats,
} from './fusion/index.js';
