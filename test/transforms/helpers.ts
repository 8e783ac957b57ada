// Shared by the transform tests: one ts-morph project for every file, and running a transformed module.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Project } from 'ts-morph';
import { transformFile, type TransformOptions, type TransformResult } from '../../transforms/index.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** kusari's runtime, as generated code and test sources import it */
export const RUNTIME = path.join(ROOT, 'runtime/index.ts');

let shared: Project | null = null;
/** One project (the checker's program) for all tests: building it is the slow part. */
export function project(): Project {
  shared ??= new Project({ tsConfigFilePath: path.join(ROOT, 'tsconfig.json'), skipAddingFilesFromTsConfig: true });
  return shared;
}

/** Transform `text` as the file `name` (relative to the repository root) with the shared project. */
export function transform(name: string, text: string, opts: TransformOptions = {}): TransformResult {
  return transformFile(path.join(ROOT, name), text, { project: project(), ...opts });
}

let n = 0;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kusari-transform-'));
/** Import a module's text (written to a temporary file) and return its exports. */
export async function load<T>(code: string): Promise<T> {
  const file = path.join(dir, `m${n++}.mts`);
  fs.writeFileSync(file, code);
  return (await import(pathToFileURL(file).href)) as T;
}
