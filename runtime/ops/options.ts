// Option objects checked before work: an unknown key or a wrong value is named, never ignored.

/** What a value of one option must be, as a test and the words for the error. */
export interface OptionRule { readonly test: (v: unknown) => boolean; readonly expected: string }

export const BOOLEAN: OptionRule = { test: (v) => typeof v === 'boolean', expected: 'a boolean' };
export const FUNCTION: OptionRule = { test: (v) => typeof v === 'function', expected: 'a function' };
export const INTEGER: OptionRule = { test: (v) => Number.isSafeInteger(v), expected: 'an integer' };
export const oneOf = (...values: readonly string[]): OptionRule => ({
  test: (v) => typeof v === 'string' && values.includes(v),
  expected: values.map((v) => `'${v}'`).join(' or '),
});

const show = (v: unknown): string => {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'function') return `a function (${v.name || 'anonymous'})`;
  if (typeof v === 'object' && v !== null) return v.constructor?.name ?? 'object';
  return String(v);
};

/**
 * Throw `op: option <key> must be <expected>, got <value>` for a bad value, and name any key
 * `rules` does not know (a typo such as `reduction` would otherwise be silently ignored).
 */
export function checkOptions(op: string, opts: unknown, rules: Readonly<Record<string, OptionRule>>): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw new Error(`${op}: options must be an object, got ${show(opts)}`);
  for (const [key, v] of Object.entries(opts)) {
    const rule = Object.hasOwn(rules, key) ? rules[key] : undefined;
    if (rule === undefined) throw new Error(`${op}: unknown option '${key}'; the options are ${Object.keys(rules).join(', ')}`);
    if (v !== undefined && !rule.test(v)) throw new Error(`${op}: option ${key} must be ${rule.expected}, got ${show(v)}`);
  }
}

/** keepdims must be a boolean: a stray number in its place is a mistake worth naming. */
export function checkKeepdims(keepdims: unknown, op: string): void {
  if (typeof keepdims !== 'boolean') throw new Error(`${op}: keepdims must be a boolean, got ${show(keepdims)}`);
}

/** A numeric parameter of an op (a slope, a scale) must be a finite number. */
export function checkFinite(value: unknown, op: string, arg: string, nonZero = false): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || (nonZero && value === 0)) {
    throw new Error(`${op}: ${arg} must be a finite${nonZero ? ', non-zero' : ''} number, got ${show(value)}`);
  }
}

/** An option the op checks itself, later and with more context (a pair, a geometry): only its key is checked here. */
export const CHECKED_BELOW: OptionRule = { test: () => true, expected: 'any value' };
