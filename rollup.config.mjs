// Bundles the runtime into dist/index.js (ESM) and its types into dist/index.d.ts, and the build-time transform's entry points (kusari/rollup, kusari/register, the CLI) beside it.
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';
import ts from 'typescript';

// KUSARI_DIST builds elsewhere (test/transforms/adapters/package.test.ts packs a copy of the
// package in a temporary folder, so it never races test/build.test.ts over dist/).
const dist = process.env.KUSARI_DIST ?? 'dist';

// noCheck: types are checked by `npm run typecheck` (and `npm test`); the build only emits
const compile = () => typescript({ tsconfig: './tsconfig.build.json', outDir: dist, sourceMap: true, module: 'ESNext', moduleResolution: 'Bundler', noCheck: true });

// The transform's dependencies stay imports: they are installed with the package, and only
// these entry points load them (dist/index.js is a build of its own, so `import 'kusari'`
// never reaches ts-morph or TypeScript; test/transforms/adapters/package.test.ts checks it).
const external = (id) => id.startsWith('node:') || /^(ts-morph|magic-string|@jridgewell\/remapping|rollup)(\/|$)/.test(id);

/**
 * dist/index.d.ts re-exports one .d.ts per source file (dist/types/), as tsc writes them. Not
 * one bundled file: bundling renames what the `export * as F` namespaces hold (`index$5_tanh`
 * for F.tanh), and the build-time transform, which resolves calls through the type checker to
 * kusari's declarations, must find F.tanh declared as `tanh` in an installed package too.
 */
function declarations() {
  return {
    name: 'declarations',
    load: (id) => (id.endsWith('runtime/index.ts') ? 'export {};' : null),
    generateBundle(_, bundle) {
      const { options } = ts.parseJsonConfigFileContent(ts.readConfigFile('tsconfig.build.json', ts.sys.readFile).config, ts.sys, '.');
      const program = ts.createProgram(['runtime/index.ts'], { ...options, declaration: true, emitDeclarationOnly: true, noEmit: false, outDir: `${dist}/types`, rootDir: '.' });
      const { emitSkipped, diagnostics } = program.emit();
      if (emitSkipped) this.error(`declarations: tsc emitted nothing: ${diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ')}`);
      for (const k of Object.keys(bundle)) delete bundle[k];
      this.emitFile({ type: 'asset', fileName: 'index.d.ts', source: "// kusari's types: one declaration file per source file under types/.\nexport * from './types/runtime/index.js';\n" });
    },
  };
}

export default [
  {
    input: 'runtime/index.ts',
    output: { file: `${dist}/index.js`, format: 'es', sourcemap: true },
    plugins: [compile()],
  },
  {
    input: 'runtime/index.ts',
    output: { file: `${dist}/index.d.ts`, format: 'es' },
    plugins: [declarations()],
  },
  {
    // register-hooks is its own file: register.js hands Node its URL
    input: { rollup: 'transforms/rollup.ts', cli: 'transforms/cli.ts', register: 'transforms/register.ts', 'register-hooks': 'transforms/register-hooks.ts' },
    output: { dir: dist, format: 'es', sourcemap: true, chunkFileNames: 'transforms/[name]-[hash].js' },
    external,
    plugins: [compile()],
  },
  {
    input: 'transforms/rollup.ts',
    output: { file: `${dist}/rollup.d.ts`, format: 'es' },
    external,
    plugins: [dts({ tsconfig: './tsconfig.build.json' })],
  },
];
