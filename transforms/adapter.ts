// What the rollup plugin, the CLI and the Node loader share: which files to rewrite, one ts-morph Project, TypeScript to JavaScript with chained maps.

import * as fs from 'node:fs';
import * as path from 'node:path';
import remapping from '@jridgewell/remapping';
import { fileURLToPath } from 'node:url';
import { Project, ts } from 'ts-morph';

/** TypeScript sources the transform reads (declaration files never hold code). */
export function isTypeScript(file: string): boolean {
  return /\.[cm]?tsx?$/.test(file) && !/\.d\.[cm]?tsx?$/.test(file);
}

// kusari's own sources, when a checkout of the repository runs from source (tsconfig `paths`
// map 'kusari' to runtime/): this file is transforms/adapter.ts there (in dist/ they are not
// beside it, and an installed kusari lies in node_modules)
const OWN = ['runtime', 'compiler', 'transforms'].map((d) => fileURLToPath(new URL(`../${d}/`, import.meta.url)));

/** Installed packages are built already, and kusari's own runtime must not declare kernels while it loads. */
export function isUserSource(file: string): boolean {
  return isTypeScript(file) && !file.split(/[\\/]/).includes('node_modules') && !OWN.some((d) => path.resolve(file).startsWith(d));
}

/**
 * The TypeScript file an import of `file` means when `file` itself does not exist:
 * './model.js' names model.ts (TypeScript's ESM convention; .mjs -> .mts, .cjs -> .cts), and
 * './model' model.ts or model/index.ts. Null when it exists or nothing matches.
 */
export function typeScriptFor(file: string): string | null {
  if (fs.existsSync(file) && fs.statSync(file).isFile()) return null;
  const m = /\.([cm]?)js$/.exec(file);
  const candidates = m !== null
    ? [`${file.slice(0, -m[0].length)}.${m[1]}ts`, ...(m[1] === '' ? [`${file.slice(0, -3)}.tsx`] : [])]
    : [`${file}.ts`, `${file}.tsx`, path.join(file, 'index.ts')];
  return candidates.find((c) => fs.existsSync(c)) ?? null;
}

/** The nearest tsconfig.json at or above `dir`, or undefined. */
export function findTsconfig(dir: string): string | undefined {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const c = path.join(d, 'tsconfig.json');
    if (fs.existsSync(c)) return c;
    if (path.dirname(d) === d) return undefined;
  }
}

/**
 * One Project for a whole build, so the type checker loads kusari's declarations once and not
 * per file. Files enter it as they are transformed (their imports with them), never all of a
 * tsconfig's `include` up front.
 */
export function createProject(tsconfig: string | undefined): Project {
  if (tsconfig !== undefined) {
    if (!fs.existsSync(tsconfig)) throw new Error(`kusari: tsconfig ${tsconfig} does not exist`);
    return new Project({ tsConfigFilePath: tsconfig, skipAddingFilesFromTsConfig: true });
  }
  return new Project({
    compilerOptions: {
      strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true,
    },
  });
}

/** A source map as an object: JSON text is parsed, anything else passes. */
export function mapObject(map: object | string | null | undefined): object | null {
  if (map === null || map === undefined) return null;
  return typeof map === 'string' ? JSON.parse(map) as object : map;
}

/**
 * Strip `code`'s types (TypeScript's transpileModule: one file, no checking, the same as
 * tsx or esbuild do) and give back JavaScript with a source map that leads through `map`
 * (code's own map to the original, when code was rewritten) to the original lines.
 */
export function toJavaScript(fileName: string, code: string, map: object | null): { code: string; map: object } {
  const out = ts.transpileModule(code, {
    fileName,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      sourceMap: true,
      inlineSources: true,
      // a class field without initializer stays a field, as under tsc's ES2022 target
      useDefineForClassFields: true,
    },
  });
  const js = out.outputText.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
  const own = JSON.parse(out.sourceMapText!) as { sources: string[] };
  // transpileModule names the source by its base name; every link of the chain does the same
  own.sources = [path.basename(fileName)];
  const chained = map === null ? own : remapping([own as never, map as never], () => null);
  return { code: js, map: chained as object };
}

/** `code` with its map inline, as a loader returns it (Node and tsx read inline maps). */
export function withInlineMap(code: string, map: object): string {
  return `${code.replace(/\n?$/, '\n')}//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
}

/**
 * The map a source file carries from a build step before this one (the CLI's output, say):
 * inline, or a file named by its last `sourceMappingURL` comment; null when none. `text`
 * comes back without that comment (it sits at the end, so no offset before it moves).
 */
export function incomingMap(file: string, code: string): { text: string; map: object | null } {
  const m = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(code);
  if (m === null) return { text: code, map: null };
  const text = code.slice(0, m.index);
  const url = m[1];
  const inline = /^data:application\/json(?:;charset=[\w-]+)?;base64,(.*)$/.exec(url);
  try {
    if (inline !== null) return { text, map: JSON.parse(Buffer.from(inline[1], 'base64').toString('utf8')) as object };
    if (url.includes(':')) return { text, map: null }; // a URL this build cannot read
    const mapFile = path.resolve(path.dirname(file), url);
    const map = JSON.parse(fs.readFileSync(mapFile, 'utf8')) as { sources?: string[]; sourceRoot?: string };
    // sources are relative to the map's folder; the chained map names them from the file's
    const dir = path.resolve(path.dirname(mapFile), map.sourceRoot ?? '');
    const sources = (map.sources ?? []).map((s) => path.relative(path.dirname(file), path.resolve(dir, s)).split(path.sep).join('/'));
    return { text, map: { ...map, sourceRoot: undefined, sources } };
  } catch {
    return { text: code, map: null }; // no readable map after all: the file is read as it is
  }
}
