// Fusion's public entry points: fuse(fn) for code that is not built, declared kernels for code that is.

export { fuse, type Fused } from './fuse.js';
export { defineFusedKernel, precompile, type FusedKernel, type FusedKernelSpec } from './declared.js';
export { compileStats, precompiled, type CompileStats } from './background.js';
