// The loader's hooks (registered by register.ts): TypeScript files are fused, stripped of types and run, with a source map to the original.

import * as fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Project } from 'ts-morph';
import { createProject, findTsconfig, incomingMap, isUserSource, toJavaScript, typeScriptFor, withInlineMap } from './adapter.js';
import { transformFile } from './index.js';

interface ResolveContext { parentURL?: string; conditions: readonly string[] }
interface ResolveResult { url: string; format?: string | null; shortCircuit?: boolean }
type NextResolve = (specifier: string, context?: ResolveContext) => Promise<ResolveResult>;
interface LoadContext { format?: string | null; conditions: readonly string[] }
interface LoadResult { format: string; source?: string | ArrayBuffer | Uint8Array; shortCircuit?: boolean }
type NextLoad = (url: string, context?: LoadContext) => Promise<LoadResult>;

/** Relative imports from TypeScript that name the .js a compiler would write ('./model.js' for model.ts). */
export async function resolve(specifier: string, context: ResolveContext, next: NextResolve): Promise<ResolveResult> {
  try {
    return await next(specifier, context);
  } catch (e) {
    const parent = context.parentURL;
    if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND' || parent === undefined || !parent.startsWith('file:') || !/^\.\.?\//.test(specifier)) throw e;
    if (!isUserSource(fileURLToPath(parent))) throw e;
    const ts = typeScriptFor(fileURLToPath(new URL(specifier, parent)));
    if (ts === null) throw e;
    return { url: pathToFileURL(ts).href, shortCircuit: true };
  }
}

// One program per tsconfig for the whole process: the checker loads kusari's declarations once.
const projects = new Map<string, Project>();

function projectFor(file: string): Project {
  const tsconfig = findTsconfig(file);
  let p = projects.get(tsconfig ?? '');
  if (p === undefined) projects.set(tsconfig ?? '', (p = createProject(tsconfig)));
  return p;
}

/**
 * A TypeScript module outside node_modules: read from disk (the TypeScript, never what another
 * loader made of it: fusion needs the types), fused, stripped of its types, with one map
 * from the JavaScript back to the original (through a map the file carries inline, if any).
 * A `@fuse` function that cannot be fused throws here, so the import fails with the reason.
 */
export async function load(url: string, context: LoadContext, next: NextLoad): Promise<LoadResult> {
  if (!url.startsWith('file:')) return next(url, context);
  const file = fileURLToPath(url);
  if (!isUserSource(file) || /\.(cts|tsx)$/.test(file)) return next(url, context);
  // the old map's comment goes (the output carries its own map, chained to that one)
  const { text, map: incoming } = incomingMap(file, fs.readFileSync(file, 'utf8'));
  const fused = transformFile(file, text, { project: projectFor(file), inputSourceMap: incoming });
  const js = toJavaScript(file, fused.code, fused.map ?? incoming);
  return { format: 'module', source: withInlineMap(js.code, js.map), shortCircuit: true };
}
