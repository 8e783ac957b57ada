// Bundles the runtime into dist/index.js (ESM) and its types into dist/index.d.ts.
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';

export default [
  {
    input: 'runtime/index.ts',
    output: { file: 'dist/index.js', format: 'es', sourcemap: true },
    plugins: [typescript({ tsconfig: './tsconfig.build.json', outDir: 'dist', sourceMap: true, module: 'ESNext', moduleResolution: 'Bundler' })],
  },
  {
    input: 'runtime/index.ts',
    output: { file: 'dist/index.d.ts', format: 'es' },
    plugins: [dts({ tsconfig: './tsconfig.build.json' })],
  },
];
