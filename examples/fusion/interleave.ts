// The comparison job's steady-state probe: several versions of the train module in ONE process, taking steps in turn, so a busy spell of a shared machine slows them alike; prints their step times as JSON.
// Usage (npm run fusion runs it): npx tsx examples/fusion/interleave.ts --program <a> --program <b> [...] --device cpu|webgpu [--steps N] [train.ts's flags]

import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { initWebGpu, releaseWebGpu } from 'kusari';
import type { AroundStep, TrainOptions } from './train.js';

/** What the probe prints (the last line of its stdout): per program, in the order given. */
export interface Interleaved {
  programs: string[];
  losses: number[][];
  stepMs: number[][];
  cpuMs: number[][];
  loadAverage: number[];
}

type TrainModule = { train(opts: TrainOptions, around: AroundStep): Promise<{ losses: number[] }>; parseOptions(argv: string[]): TrainOptions };

const { values } = parseArgs({ args: process.argv.slice(2), options: { program: { type: 'string', multiple: true } }, strict: false });
const programs = (values.program ?? []).map((p) => resolve(String(p)));
if (programs.length < 2) {
  console.error('interleave: give two or more --program <path of a train module>');
  process.exit(2);
}
const mods = await Promise.all(programs.map(async (p) => (await import(pathToFileURL(p).href)) as TrainModule));
const rest = process.argv.slice(2).filter((_, i, a) => a[i] !== '--program' && a[i - 1] !== '--program');
const opts = mods[0].parseOptions(rest);
if (opts.device === 'webgpu') await initWebGpu();

// a baton: program i steps only on its turn, then hands over to the next
let turn = 0;
const waiting: (() => void)[] = [];
const stepMs = programs.map((): number[] => []), cpuMs = programs.map((): number[] => []);
const around = (i: number): AroundStep => async (_k, step) => {
  while (turn !== i) await new Promise<void>((r) => waiting.push(r));
  const t0 = performance.now(), c0 = process.cpuUsage();
  const loss = await step();
  stepMs[i].push(performance.now() - t0);
  const c = process.cpuUsage(c0);
  cpuMs[i].push((c.user + c.system) / 1000);
  turn = (i + 1) % programs.length;
  for (const r of waiting.splice(0)) r();
  return loss;
};
// each train() runs on its own until it first waits (its first step's read, or its turn): it seeds the global
// stream and draws its weights and batch order before the next one starts (draws at a later epoch would interleave)
const results = await Promise.all(mods.map((m, i) => m.train(opts, around(i))));
if (opts.device === 'webgpu') releaseWebGpu();
const out: Interleaved = { programs, losses: results.map((r) => r.losses), stepMs, cpuMs, loadAverage: loadavg() };
console.log(JSON.stringify(out));
