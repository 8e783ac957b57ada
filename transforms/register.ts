// The Node loader (`node --import kusari/register app.ts`): fuses and runs TypeScript without a bundle, for development.

import { register } from 'node:module';

// stack traces through the inline maps point at the lines the user wrote
process.setSourceMapsEnabled(true);
register(new URL(`./register-hooks.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));
