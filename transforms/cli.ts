// The CLI (`npx kusari fuse <src> --out <dir>`): build-time fusion of a folder of TypeScript into another, a thin adapter over transformFile.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createProject, findTsconfig, isTypeScript } from './adapter.js';
import { FuseBuildError, formatReport, transformFile, type FileReport } from './index.js';

export const USAGE = `usage: kusari fuse <src> --out <dir> [--report] [--report=json] [--check] [--project <tsconfig.json>]

Rewrites the elementwise chains in the forward code of <src> (a folder, or one .ts file) into
generated kernels and writes the result to <dir>, every other file copied as it is.
  --report        print every chain fused and every candidate left alone, with the reason
  --report=json   write that report to <dir>/kusari-report.json
  --check         write nothing: exit 1 if <dir> is not what this build would write
  --project       the tsconfig the type checker uses (default: the nearest above <src>)
A function tagged /** @fuse */ that cannot be fused fails the build (exit code 1, with the reason).`;

/** Where a command's output goes (tests capture it). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

interface Options { src: string; out: string | null; report: 'text' | 'json' | null; check: boolean; project: string | null }

class UsageError extends Error {}

function parse(argv: readonly string[]): Options {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') throw new UsageError('');
  if (command !== 'fuse') throw new UsageError(`unknown command '${command}'; the one command is 'fuse'`);
  const o: Options = { src: '', out: null, report: null, check: false, project: null };
  const sources: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    const value = (flag: string) => {
      const v = rest[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (a === '--out' || a === '-o') o.out = value(a);
    else if (a.startsWith('--out=')) o.out = a.slice(6);
    else if (a === '--report' || a === '--report=text') o.report = 'text';
    else if (a === '--report=json') o.report = 'json';
    else if (a === '--check') o.check = true;
    else if (a === '--project' || a === '-p') o.project = value(a);
    else if (a.startsWith('--project=')) o.project = a.slice(10);
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else sources.push(a);
  }
  if (sources.length !== 1) throw new UsageError(sources.length === 0 ? 'no <src> given' : `one <src> expected, got ${sources.join(' ')}`);
  o.src = sources[0];
  if (o.out === null && !o.check) throw new UsageError('--out <dir> is required (or --check)');
  if (o.report === 'json' && o.out === null) throw new UsageError('--report=json writes into --out <dir>');
  return o;
}

/** Every file under `dir` (sorted, so reports and errors come in a stable order), skipping dependencies, hidden folders and `skip`. */
function walk(dir: string, skip: string | null): string[] {
  const files: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === 'node_modules' || e.name.startsWith('.') || p === skip) continue;
      files.push(...walk(p, skip));
    } else if (e.isFile()) {
      files.push(p);
    }
  }
  return files;
}

/** One output file: its path under --out and its bytes. */
interface Output { file: string; data: string | Buffer }

/**
 * Run the CLI on `argv` (without node and the script); resolves to the exit code: 0 done,
 * 1 a `@fuse` function cannot be fused or --check found a stale output, 2 a usage error.
 */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number> {
  let o: Options;
  try {
    o = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message !== '') io.err(`kusari: ${e.message}\n`);
    io.err(`${USAGE}\n`);
    return e.message === '' ? 0 : 2;
  }
  const src = path.resolve(o.src);
  if (!fs.existsSync(src)) {
    io.err(`kusari fuse: ${o.src} does not exist\n`);
    return 2;
  }
  const single = fs.statSync(src).isFile();
  const root = single ? path.dirname(src) : src;
  const out = o.out === null ? null : path.resolve(o.out);
  if (out !== null && (out === root || (single && out === path.dirname(src)))) {
    io.err(`kusari fuse: --out ${o.out} is the source folder; the build would overwrite its input\n`);
    return 2;
  }
  const tsconfig = o.project !== null ? path.resolve(o.project) : findTsconfig(root);
  const project = createProject(tsconfig);

  const files = single ? [src] : walk(root, out);
  const outputs: Output[] = [];
  const reports: FileReport[] = [];
  const failures: FuseBuildError[] = [];
  for (const file of files) {
    const rel = path.relative(root, file);
    const target = out === null ? rel : path.join(out, rel);
    if (!isTypeScript(file)) {
      if (!single) outputs.push({ file: target, data: fs.readFileSync(file) });
      continue;
    }
    const text = fs.readFileSync(file, 'utf8');
    try {
      const r = transformFile(file, text, { project });
      reports.push(r.report);
      if (!r.changed) {
        outputs.push({ file: target, data: text });
        continue;
      }
      // the map beside the output, its source the original file, found from where the map lies
      const map = { ...(r.map as { sources?: string[] }), sources: [path.relative(path.dirname(target), file).split(path.sep).join('/')] };
      outputs.push({ file: target, data: `${r.code.replace(/\n?$/, '\n')}//# sourceMappingURL=${path.basename(target)}.map\n` });
      outputs.push({ file: `${target}.map`, data: `${JSON.stringify(map)}\n` });
    } catch (e) {
      if (!(e instanceof FuseBuildError)) throw e;
      failures.push(e);
    }
  }
  if (failures.length > 0) {
    for (const f of failures) io.err(`kusari fuse: ${f.message}\n`);
    io.err(`kusari fuse: ${failures.length} function(s) tagged @fuse cannot be fused; nothing written\n`);
    return 1;
  }
  if (o.report === 'json') outputs.push({ file: path.join(out!, 'kusari-report.json'), data: `${JSON.stringify(reports, null, 1)}\n` });
  if (o.report === 'text') io.out(formatReport(reports));

  if (o.check) {
    if (out === null) return 0;
    const stale = outputs.filter((w) => !fs.existsSync(w.file) || !fs.readFileSync(w.file).equals(Buffer.from(w.data)));
    for (const w of stale) io.err(`kusari fuse --check: ${path.relative(process.cwd(), w.file)} is ${fs.existsSync(w.file) ? 'out of date' : 'missing'}\n`);
    return stale.length > 0 ? 1 : 0;
  }
  for (const w of outputs) {
    fs.mkdirSync(path.dirname(w.file), { recursive: true });
    fs.writeFileSync(w.file, w.data);
  }
  const fused = reports.reduce((n, r) => n + r.chains.length, 0);
  io.err(`kusari fuse: ${fused} chain(s) fused in ${reports.length} TypeScript file(s); wrote ${path.relative(process.cwd(), out!) || '.'}\n`);
  return 0;
}
