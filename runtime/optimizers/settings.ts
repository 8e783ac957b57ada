// Checks of optimizer settings, so a bad rate fails at construction with the optimizer and setting named, not as NaN weights later.

/** Throw `<Optimizer>: <setting> must be <what>, got <value>` unless `ok(value)`. */
export function checkSetting(owner: string, name: string, value: number, ok: (v: number) => boolean, what: string): void {
  if (typeof value !== 'number' || !ok(value)) throw new Error(`${owner}: ${name} must be ${what}, got ${String(value)}`);
}

export const positive = (v: number): boolean => Number.isFinite(v) && v > 0;
export const nonNegative = (v: number): boolean => Number.isFinite(v) && v >= 0;
/** In [0, 1): a decay or momentum factor. */
export const unitInterval = (v: number): boolean => v >= 0 && v < 1;
