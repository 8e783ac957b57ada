// The rollup plugin (`kusari/rollup`): build-time fusion of every TypeScript module of a bundle, a thin adapter over transformFile.

import * as path from 'node:path';
import type { Plugin, SourceMapInput } from 'rollup';
import type { Project } from 'ts-morph';
import { createProject, findTsconfig, isUserSource, toJavaScript, typeScriptFor } from './adapter.js';
import { FuseBuildError, formatReport, transformFile, type FileReport } from './index.js';

export interface KusariPluginOptions {
  /** which modules to rewrite (default: TypeScript outside node_modules); called with rollup's module id */
  include?: (id: string) => boolean;
  /** the tsconfig whose compiler options and `paths` the type checker uses (default: the nearest to the working directory) */
  tsconfig?: string;
  /** how generated code imports kusari (default 'kusari') */
  runtimeImport?: string;
  /**
   * Emit JavaScript (default true): types are stripped here, so no other TypeScript plugin is
   * needed. false hands the rewritten TypeScript on, for a plugin that compiles the code it is
   * given (esbuild, sucrase, swc); not @rollup/plugin-typescript, which reads files from disk
   * and so would compile the unfused source.
   */
  transpile?: boolean;
  /** true prints the report (every chain fused, every candidate left alone) when the build ends; 'json' emits it as kusari-report.json */
  report?: boolean | 'json';
}

/**
 * Fuse elementwise chains while bundling: put it first among the plugins.
 *
 * ```js
 * // rollup.config.mjs
 * import kusari from 'kusari/rollup';
 * export default { input: 'src/train.ts', output: { dir: 'dist', format: 'es', sourcemap: true }, external: ['kusari'], plugins: [kusari({ report: true })] };
 * ```
 * A function tagged `@fuse` that cannot be fused fails the build with the reason.
 */
export default function kusari(options: KusariPluginOptions = {}): Plugin {
  const include = options.include ?? isUserSource;
  const transpile = options.transpile ?? true;
  let project: Project | null = null;
  let reports: FileReport[] = [];
  return {
    name: 'kusari',
    buildStart() {
      // a fresh program per build: in watch mode the files it has read may have changed
      project = createProject(options.tsconfig ?? findTsconfig(process.cwd()));
      reports = [];
    },
    resolveId(source, importer) {
      // TypeScript's ESM convention: './model.js' names model.ts, which rollup alone cannot find
      if (!transpile || importer === undefined || !isUserSource(importer) || !source.startsWith('.')) return null;
      return typeScriptFor(path.resolve(path.dirname(importer), source));
    },
    transform(code, id) {
      if (!include(id)) return null;
      let result;
      try {
        // no inputSourceMap: rollup chains each plugin's map onto the previous ones itself
        result = transformFile(id, code, { project: project ?? undefined, runtimeImport: options.runtimeImport });
      } catch (e) {
        if (e instanceof FuseBuildError) this.error({ message: e.message, id, loc: { file: id, line: e.line, column: 0 } });
        throw e;
      }
      reports.push(result.report);
      if (transpile) {
        const js = toJavaScript(id, result.code, result.map);
        return { code: js.code, map: js.map as SourceMapInput };
      }
      return result.changed ? { code: result.code, map: result.map as SourceMapInput } : null;
    },
    generateBundle() {
      if (options.report === 'json') this.emitFile({ type: 'asset', fileName: 'kusari-report.json', source: `${JSON.stringify(sorted(reports), null, 1)}\n` });
      else if (options.report === true) process.stdout.write(formatReport(sorted(reports)));
    },
  };
}

const sorted = (reports: readonly FileReport[]) => [...reports].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
