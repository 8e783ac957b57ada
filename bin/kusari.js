#!/usr/bin/env node
// The `kusari` command (package.json "bin"): runs the CLI built into dist/, or in a checkout of the repository under tsx its source.

import { existsSync } from 'node:fs';

const source = new URL('../transforms/cli.ts', import.meta.url);
const built = new URL('../dist/cli.js', import.meta.url);

/** The source when it is here (a checkout) and TypeScript loads (tsx), so a stale dist/ never runs; else the build. */
async function load() {
  if (existsSync(source)) {
    try {
      return await import(source.href);
    } catch (e) {
      if (e?.code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !existsSync(built)) throw e;
    }
  }
  if (!existsSync(built)) {
    console.error('kusari: dist/cli.js is missing: run `npm run build` first (in a checkout, or run this file under tsx)');
    process.exit(2);
  }
  return import(built.href);
}

const { main } = await load();
process.exitCode = await main(process.argv.slice(2));
