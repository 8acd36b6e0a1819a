#!/usr/bin/env node
// The `hatchway` command. In a checkout, on a Node that strips types (22.18+, 24), it runs the
// TypeScript sources, so what you edit is what runs; installed from the registry (under
// node_modules, where Node does not strip types) it runs the built dist/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/src/cli/main.js', import.meta.url);
const inCheckout = !source.pathname.includes('/node_modules/') && existsSync(source) && Boolean(process.features.typescript);
const { main } = await import((inCheckout || !existsSync(built) ? source : built).href);
process.exitCode = await main(process.argv.slice(2));
process.exit();
