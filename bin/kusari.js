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
      if (e?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
      // plain node in a checkout: load TypeScript through tsx (a devDependency) when it is installed
      const tsx = await import('tsx/esm/api').catch(() => null);
      if (tsx !== null) {
        tsx.register();
        // a new URL: Node keeps the failed import of the plain one
        return import(`${source.href}?tsx`);
      }
      if (!existsSync(built)) throw e;
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
