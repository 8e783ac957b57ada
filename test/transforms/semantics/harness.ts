// The with/without harness: each semantics program transformed by transforms/ (transformFile), written beside the original, loaded, run and compared.

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Device } from 'kusari';
import { dispatchStats } from '../../../runtime/array/backend.js';
import { transformFile, type TransformResult } from '../../../transforms/index.js';
import { Recorder, type Observation, type Program } from './outcome.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const PROGRAMS = join(HERE, 'programs');
const ROOT = join(HERE, '..', '..', '..');

/** Every program's name (file name without .ts), sorted. */
export const programNames = (): string[] => readdirSync(PROGRAMS).filter((f) => f.endsWith('.ts')).map((f) => basename(f, '.ts')).sort();

/** One program, built: where each version lives and what the transform said about it. */
export interface Built {
  readonly name: string;
  readonly original: string;
  readonly fused: string;
  readonly result: TransformResult;
}

/**
 * Transform every program into a fresh hidden folder beside programs/ (same depth, so the
 * programs' relative imports resolve alike; hidden, so tsc and ava do not pick it up);
 * `cleanup` removes it. Generated code imports the runtime as 'kusari', which tsconfig's
 * paths map to runtime/index.ts: the same module instance the originals use.
 */
export function buildPrograms(names: readonly string[]): { built: Built[]; cleanup: () => void } {
  const out = mkdtempSync(join(HERE, '.fused-'));
  try {
    const built = names.map((name): Built => {
      const original = join(PROGRAMS, `${name}.ts`);
      const result = transformFile(original, readFileSync(original, 'utf8'), { tsconfig: join(ROOT, 'tsconfig.json') });
      const fused = join(out, `${name}.ts`);
      writeFileSync(fused, result.code);
      return { name, original, fused, result };
    });
    return { built, cleanup: () => rmSync(out, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(out, { recursive: true, force: true });
    throw e;
  }
}

/** What one run of one version observed, and how many kernels it dispatched. */
export interface Run { readonly entries: readonly Observation[]; readonly dispatches: number }

/** Load `file` and run its program on `device`. */
export async function runProgram(file: string, device: Device): Promise<Run> {
  const { run } = (await import(pathToFileURL(file).href)) as { run: Program };
  const r = new Recorder(device);
  const before = dispatchStats.count;
  await run(r);
  return { entries: r.entries, dispatches: dispatchStats.count - before };
}

/**
 * The first difference between two runs' observations: names and kinds in the same order,
 * error messages equal as strings, numbers within float32 tolerance (NaN equals NaN); null
 * when they agree.
 */
export function firstDifference(unfused: readonly Observation[], fused: readonly Observation[], { atol = 1e-5, rtol = 1e-4 } = {}): string | null {
  const n = Math.max(unfused.length, fused.length);
  for (let i = 0; i < n; i++) {
    const a = unfused[i], b = fused[i];
    if (a === undefined || b === undefined) return `observation ${i}: ${a === undefined ? 'only the fused run' : 'only the unfused run'} has ${(a ?? b).name}`;
    if (a.name !== b.name || a.kind !== b.kind) return `observation ${i}: unfused ${a.kind} ${a.name}, fused ${b.kind} ${b.name}`;
    if (a.kind === 'error' && b.kind === 'error') {
      if (a.message !== b.message) return `${a.name}: unfused threw ${JSON.stringify(a.message)}, fused ${JSON.stringify(b.message)}`;
      continue;
    }
    if (a.kind !== 'values' || b.kind !== 'values') continue;
    if (a.data.length !== b.data.length) return `${a.name}: ${a.data.length} values unfused, ${b.data.length} fused`;
    for (let k = 0; k < a.data.length; k++) {
      const x = a.data[k], y = b.data[k];
      const same = x === y || (Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) <= atol + rtol * Math.abs(x);
      if (!same) return `${a.name}[${k}]: unfused ${x}, fused ${y} (atol ${atol}, rtol ${rtol})`;
    }
  }
  return null;
}
