// Global run configuration: train/test mode and whether ops record a graph.

export interface Config {
  /** Dropout and batch normalisation behave as in training when true. */
  train: boolean;
  /** Ops record FunctionNodes (a graph to backprop through) when true. */
  enableBackprop: boolean;
}

export const config: Config = { train: true, enableBackprop: true };

/** Run `fn` with some config entries replaced, restoring them afterwards (also on throw). */
export function usingConfig<T>(changes: Partial<Config>, fn: () => T): T {
  const saved = { ...config };
  Object.assign(config, changes);
  try {
    return fn();
  } finally {
    Object.assign(config, saved);
  }
}

/** Run `fn` without recording a graph (Chainer's `no_backprop_mode`). */
export const noBackprop = <T>(fn: () => T): T => usingConfig({ enableBackprop: false }, fn);

/** Run `fn` in test mode: dropout off, batch norm uses its running statistics. */
export const testMode = <T>(fn: () => T): T => usingConfig({ train: false }, fn);
