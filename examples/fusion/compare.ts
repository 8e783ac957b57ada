// npm run fusion: build examples/fusion with the rollup plugin and with the CLI, train unfused and fused for the same steps and seed on each device, print the comparison and write bench/results/fusion-job.json.
// Usage: npm run fusion -- [--device cpu|webgpu] [--steps 40] [--warmup 8] [--rounds 2] [--batchsize 100] [--strips 28] [--units 64] [--hidden 128] [--out bench/results/fusion-job.json]
// Without --device it runs on the CPU and, when an adapter is found, on WebGPU.

import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { rollup } from 'rollup';
// kusari/rollup, from the source: this checkout's build of it may be stale
import kusari from '../../transforms/rollup.js';
import type { Interleaved } from './interleave.js';
import type { Measured } from './measure.js';

const run = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const BUILD = join(ROOT, 'build', 'fusion');

type Device = 'cpu' | 'webgpu';
interface Variant { name: string; program: string; fused: boolean }

/** Per step: |fused - unfused| <= ATOL + RTOL |unfused|, float32 rounding compounded over the steps. */
const ATOL = 1e-5, RTOL = 1e-4;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function fail(message: string): never {
  console.error(`fusion: ${message}`);
  process.exit(2);
}

function parseOptions(argv: string[]) {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        device: { type: 'string' }, steps: { type: 'string', default: '40' }, warmup: { type: 'string', default: '8' },
        batchsize: { type: 'string', default: '100' }, rounds: { type: 'string', default: '2' }, out: { type: 'string', default: join('bench', 'results', 'fusion-job.json') },
        units: { type: 'string' }, hidden: { type: 'string' }, strips: { type: 'string' },
      },
    }).values;
  } catch (e) {
    return fail((e as Error).message);
  }
  const int = (name: string, text: string, min: number) => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < min) fail(`--${name} must be an integer >= ${min}, got '${text}'`);
    return v;
  };
  if (values.device !== undefined && values.device !== 'cpu' && values.device !== 'webgpu') fail(`--device must be cpu or webgpu, got '${values.device}'`);
  const steps = int('steps', values.steps, 2);
  const warmup = int('warmup', values.warmup, 0);
  if (warmup >= steps) fail(`--warmup (${warmup}) must be below --steps (${steps}): the median is taken over the steps after it`);
  const model = (['units', 'hidden', 'strips'] as const).flatMap((k) => (values[k] === undefined ? [] : [`--${k}`, String(int(k, values[k]!, 1))]));
  return { device: values.device as Device | undefined, steps, warmup, rounds: int('rounds', values.rounds, 1), batchsize: int('batchsize', values.batchsize, 1), out: values.out, model };
}

/** Whether this machine has a WebGPU adapter (asked in a child, so this process holds no device). */
async function webgpuAvailable(): Promise<string | null> {
  const probe = "import('kusari').then(async (k) => { const c = await k.initWebGpu(); console.log(c.adapterName); k.releaseWebGpu(); }, () => {}).catch(() => {})";
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: ROOT, timeout: 120_000 });
    const name = stdout.trim().split('\n').at(-1);
    return name === undefined || name === '' ? null : name;
  } catch {
    return null;
  }
}

// ---- the two builds ------------------------------------------------------------------------

/** Bundle examples/fusion/train.ts with the rollup plugin (kusari/rollup); kusari stays an import, resolved at run time. */
async function buildWithRollup(out: string): Promise<string> {
  const bundle = await rollup({
    input: join(HERE, 'train.ts'),
    external: (id) => id === 'kusari' || id.startsWith('node:') || id.startsWith('kusari/'),
    plugins: [kusari()],
  });
  const file = join(out, 'train.js');
  await bundle.write({ file, format: 'es', sourcemap: true });
  await bundle.close();
  return file;
}

/**
 * `kusari fuse examples --out <dir> --report` through the package's bin (what `npx kusari`
 * runs): the whole examples folder, so examples/fusion's import of ../mnist/data.js lands
 * beside it, and the report covers every example. Returns the built train.ts and the report.
 */
async function buildWithCli(out: string): Promise<{ program: string; report: string }> {
  const bin = join(ROOT, 'bin', 'kusari.js');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', bin, 'fuse', 'examples', '--out', relative(ROOT, out), '--report'], { cwd: ROOT, timeout: 600_000 });
  return { program: join(out, relative(join(ROOT, 'examples'), HERE), 'train.ts'), report: stdout };
}

// ---- running and reading the probes --------------------------------------------------------

async function measure(v: Variant, device: Device, opts: ReturnType<typeof parseOptions>): Promise<Measured> {
  const args = ['--import', 'tsx', join(HERE, 'measure.ts'), '--program', v.program, '--device', device,
    '--steps', String(opts.steps), '--warmup', String(opts.warmup), '--batchsize', String(opts.batchsize), ...opts.model];
  const { stdout } = await run(process.execPath, args, { cwd: ROOT, timeout: 1_800_000, maxBuffer: 64 << 20 });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as Measured;
  } catch {
    throw new Error(`fusion: the ${v.name} run on ${device} printed no result line; its output ended: ${stdout.slice(-500)}`);
  }
}

/** All versions in one process, stepping in turn (interleave.ts): step times paired in time. */
async function interleaved(vs: readonly Variant[], device: Device, opts: ReturnType<typeof parseOptions>): Promise<Interleaved> {
  const args = ['--import', 'tsx', join(HERE, 'interleave.ts'), ...vs.flatMap((v) => ['--program', v.program]), '--device', device,
    '--steps', String(opts.steps), '--batchsize', String(opts.batchsize), ...opts.model];
  const { stdout } = await run(process.execPath, args, { cwd: ROOT, timeout: 1_800_000, maxBuffer: 64 << 20 });
  const last = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as Interleaved;
  } catch {
    throw new Error(`fusion: the interleaved run on ${device} printed no result line; its output ended: ${stdout.slice(-500)}`);
  }
}

/**
 * The figures the job reports for one variant on one device, over its rounds: the median of
 * every step after warm-up in every round, the median first step, and the first round's
 * counts (the same every round: the job checks).
 */
function summary(ms: readonly Measured[]) {
  const [m] = ms;
  return {
    medianStepMs: median(ms.flatMap((r) => r.stepMs.slice(r.warmup))),
    roundMedianStepMs: ms.map((r) => median(r.stepMs.slice(r.warmup))),
    medianStepCpuMs: median(ms.flatMap((r) => r.cpuMs.slice(r.warmup))),
    firstStepMs: median(ms.map((r) => r.stepMs[0])),
    firstStepMsEachRound: ms.map((r) => r.stepMs[0]),
    firstStepCpuMs: median(ms.map((r) => r.cpuMs[0])),
    dispatchesPerStep: median(m.dispatches.slice(1)),
    firstStepDispatches: m.dispatches[0],
    firstStepPipelines: m.firstStepPipelines,
    firstStepCompiled: m.firstStepCompiled,
    pipelinesBeforeFirstStep: m.pipelinesBeforeFirstStep,
    setupMs: median(ms.map((r) => r.setupMs)),
  };
}

const ms = (x: number) => `${x.toFixed(1)} ms`;
const pad = (s: string, n: number) => s.padStart(n);

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const adapter = opts.device === 'cpu' ? null : await webgpuAvailable();
  if (opts.device === 'webgpu' && adapter === null) fail('--device webgpu, but no WebGPU adapter was found here');
  const devices: Device[] = opts.device !== undefined ? [opts.device] : adapter === null ? ['cpu'] : ['cpu', 'webgpu'];
  if (opts.device === undefined && adapter === null) console.log('no WebGPU adapter here: the CPU only');

  rmSync(BUILD, { recursive: true, force: true });
  mkdirSync(BUILD, { recursive: true });
  let t0 = performance.now();
  const rollupProgram = await buildWithRollup(join(BUILD, 'rollup'));
  const rollupMs = performance.now() - t0;
  t0 = performance.now();
  const cli = await buildWithCli(join(BUILD, 'cli'));
  const cliMs = performance.now() - t0;
  console.log(`built examples/fusion with the rollup plugin (${(rollupMs / 1000).toFixed(1)} s) and the CLI (${(cliMs / 1000).toFixed(1)} s); the CLI's report:`);
  console.log(cli.report.trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));

  const variants: Variant[] = [
    { name: 'unfused', program: join(HERE, 'train.ts'), fused: false },
    { name: 'fused (rollup)', program: rollupProgram, fused: true },
    { name: 'fused (CLI)', program: cli.program, fused: true },
  ];
  const results: Record<string, unknown> = {};
  let allKept = true;
  for (const device of devices) {
    // rounds interleave the versions, so a busy spell on a shared machine hits all of them alike
    const rounds: Measured[][] = variants.map(() => []);
    for (let r = 0; r < opts.rounds; r++) {
      for (const [i, v] of variants.entries()) rounds[i].push(await measure(v, device, opts));
    }
    const runs = rounds.map((rs) => rs[0]);
    for (const [i, rs] of rounds.entries()) {
      for (const r of rs.slice(1)) {
        if (r.losses.join() !== rs[0].losses.join()) throw new Error(`fusion: ${variants[i].name} on ${device} gave other losses in another round: the run is not deterministic`);
      }
    }
    const sums = rounds.map(summary);
    const base = sums[0];
    const inter = await interleaved(variants, device, opts);
    const after = (xs: readonly number[]) => xs.slice(opts.warmup);
    // each fused step against the unfused step taken just before it: both saw the same moment of the machine
    const paired = inter.stepMs.map((xs) => median(after(xs).map((x, k) => x / after(inter.stepMs[0])[k])));
    const pairedCpu = inter.cpuMs.map((xs) => median(after(xs).map((x, k) => x / after(inter.cpuMs[0])[k])));
    console.log(`\n== ${device}${device === 'webgpu' ? ` (${runs[0].adapter})` : ''}: ${opts.steps} steps of batch ${opts.batchsize}, seed 0, ${opts.rounds} round(s) interleaved, median over the ${opts.steps - opts.warmup} steps after ${opts.warmup} warm-up of each; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const w = 20;
    console.log(`${''.padEnd(34)}${variants.map((v) => pad(v.name, w)).join('')}`);
    const row = (label: string, cells: string[]) => console.log(`${label.padEnd(34)}${cells.map((c) => pad(c, w)).join('')}`);
    row('dispatches per step', sums.map((s, i) => (i === 0 ? String(s.dispatchesPerStep) : `${s.dispatchesPerStep} ${(s.dispatchesPerStep / base.dispatchesPerStep).toFixed(2)}x`)));
    row('separate runs: step time (median)', sums.map((s, i) => (i === 0 ? ms(s.medianStepMs) : `${ms(s.medianStepMs)} ${(s.medianStepMs / base.medianStepMs).toFixed(2)}x`)));
    row('  step CPU time (median)', sums.map((s, i) => (i === 0 ? ms(s.medianStepCpuMs) : `${ms(s.medianStepCpuMs)} ${(s.medianStepCpuMs / base.medianStepCpuMs).toFixed(2)}x`)));
    row('  step time, median of each round', sums.map((s) => s.roundMedianStepMs.map((x) => x.toFixed(0)).join(' ')));
    const interSame = inter.losses.every((l, i) => l.join() === runs[i].losses.join());
    row('interleaved: step time (paired)', inter.stepMs.map((xs, i) => (i === 0 ? ms(median(after(xs))) : `${ms(median(after(xs)))} ${paired[i].toFixed(2)}x`)));
    row('  step CPU time', inter.cpuMs.map((xs, i) => (i === 0 ? ms(median(after(xs))) : `${ms(median(after(xs)))} ${pairedCpu[i].toFixed(2)}x`)));
    if (!interSame) console.log('  (the interleaved runs\' losses differ from the separate runs\': an epoch boundary reshuffled from a shared stream; their times still compare)');
    row('first step (median of rounds)', sums.map((s) => ms(s.firstStepMs)));
    row('first step CPU time', sums.map((s) => ms(s.firstStepCpuMs)));
    row('pipelines compiled in step 1', sums.map((s) => pipelinesText(s.firstStepPipelines, device)));
    row('pipelines made before step 1', sums.map((s) => pipelinesText(s.pipelinesBeforeFirstStep, device)));
    if (device === 'webgpu') {
      for (const [i, v] of variants.entries()) {
        if (v.fused && sums[i].firstStepCompiled.length > 0) console.log(`  ${v.name} compiled in step 1: ${sums[i].firstStepCompiled.join(', ')}`);
      }
    }
    // the losses side by side, and how far each fused run is from the unfused one
    console.log(`\n${'step'.padEnd(6)}${variants.map((v) => pad(v.name, w)).join('')}${pad('max |diff|', 14)}`);
    let worst = 0, worstRel = 0, kept = true;
    runs[0].losses.forEach((l, k) => {
      const diffs = runs.slice(1).map((r) => Math.abs(r.losses[k] - l));
      const d = Math.max(...diffs);
      worst = Math.max(worst, d);
      worstRel = Math.max(worstRel, d / Math.abs(l));
      if (!(d <= ATOL + RTOL * Math.abs(l))) kept = false;
      console.log(`${String(k).padEnd(6)}${runs.map((r) => pad(r.losses[k].toFixed(6), w)).join('')}${pad(d.toExponential(1), 14)}`);
    });
    allKept &&= kept;
    // faster: by the paired ratios of the interleaved run, in wall and in CPU time. The separate runs'
    // medians are printed too, but on a shared machine they follow its load more than the code.
    const fasterAll = paired.slice(1).every((r) => r < 1) && pairedCpu.slice(1).every((r) => r < 1);
    const fasterSeparate = sums.slice(1).every((s) => s.medianStepMs < base.medianStepMs);
    const fewerAll = sums.slice(1).every((s) => s.dispatchesPerStep < base.dispatchesPerStep);
    console.log(`\n${device}: same loss at every step (|diff| <= ${ATOL} + ${RTOL} |loss|): ${kept ? 'yes' : 'NO'} (max |diff| ${worst.toExponential(2)}, max relative ${worstRel.toExponential(2)})`);
    console.log(`${device}: fewer dispatches: ${fewerAll ? 'yes' : 'NO'}; lower step time (interleaved, paired, wall and CPU): ${fasterAll ? 'yes' : 'NO'} (separate runs' medians: ${fasterSeparate ? 'lower' : 'NOT lower'})` +
      (device === 'webgpu' ? `; fused first step compiles ${sums.slice(1).map((s) => s.firstStepPipelines.onDemand ?? s.firstStepPipelines.created).join(' / ')} pipelines (unfused ${base.firstStepPipelines.onDemand ?? base.firstStepPipelines.created})` : ''));
    results[device] = {
      adapter: runs[0].adapter,
      variants: variants.map((v, i) => ({ name: v.name, program: relative(ROOT, v.program), ...sums[i], losses: runs[i].losses, stepMs: rounds[i].map((r) => r.stepMs), cpuMs: rounds[i].map((r) => r.cpuMs), dispatches: runs[i].dispatches })),
      ratios: Object.fromEntries(variants.slice(1).map((v, i) => [v.name, {
        stepTime: sums[i + 1].medianStepMs / base.medianStepMs,
        stepCpuTime: sums[i + 1].medianStepCpuMs / base.medianStepCpuMs,
        interleavedStepTime: paired[i + 1],
        interleavedStepCpuTime: pairedCpu[i + 1],
        dispatches: sums[i + 1].dispatchesPerStep / base.dispatchesPerStep,
        firstStep: sums[i + 1].firstStepMs / base.firstStepMs,
        firstStepCpu: sums[i + 1].firstStepCpuMs / base.firstStepCpuMs,
      }])),
      sameLoss: kept, maxLossDiff: worst, maxLossRelDiff: worstRel, fewerDispatches: fewerAll, faster: fasterAll, fasterSeparateRuns: fasterSeparate,
      interleaved: { stepMs: inter.stepMs, cpuMs: inter.cpuMs, losses: inter.losses, loadAverage: inter.loadAverage },
      loadAverage: rounds.map((rs) => rs.map((r) => r.loadAverage)),
    };
  }
  const out = resolve(ROOT, opts.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ job: 'fusion', date: new Date().toISOString(), steps: opts.steps, warmup: opts.warmup, rounds: opts.rounds, batchsize: opts.batchsize, build: { rollupMs, cliMs }, tolerance: { atol: ATOL, rtol: RTOL }, devices: results }, null, 1)}\n`);
  console.log(`\nfigures written to ${relative(ROOT, out)}`);
  if (!allKept) process.exitCode = 1;
}

/** On the CPU nothing is compiled (kernels are JS/wasm made in microseconds): say so rather than print zeros. */
function pipelinesText(p: Record<string, number>, device: Device): string {
  if (device === 'cpu') return '-';
  return p.onDemand === undefined ? String(p.created) : `${p.onDemand} (${p.created} made)`;
}

await main();
