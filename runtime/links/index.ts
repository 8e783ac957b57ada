// The links namespace (L).

export { Link, Chain, ChainList, Parameter } from './link.js';
export { Linear, type LinearOptions } from './linear.js';
export * as initializers from './initializers.js';
