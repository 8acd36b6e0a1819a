#!/usr/bin/env node
// The `hatchway` command. Runs the built dist/ when it exists (a published install), else the
// TypeScript sources directly (Node 22.18+ and 24 strip types).
import { existsSync } from 'node:fs';

const built = new URL('../dist/src/cli/main.js', import.meta.url);
const { main } = await import(existsSync(built) ? built.href : new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
process.exit();
