#!/usr/bin/env node
// The `hatchway` command. In a checkout, on a Node that strips types (22.18+, 24), it runs the
// TypeScript sources, so what you edit is what runs; installed from the registry (under
// node_modules, where Node does not strip types) it runs the built dist/.
import { existsSync } from 'node:fs';

// Checked before anything else loads: an older Node would fail on the sources with a
// message that does not say why (and on Node 20 every HTTP/2 response is reset).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`hatchway: hatchway needs Node 22.12.0 or later, this is ${process.versions.node} (on Node 20 every HTTP/2 response is reset with INTERNAL_ERROR)\n`);
  process.exit(1);
}

const source = new URL('../src/cli/main.ts', import.meta.url);
const built = new URL('../dist/src/cli/main.js', import.meta.url);
const inCheckout = !source.pathname.includes('/node_modules/') && existsSync(source) && Boolean(process.features.typescript);
const { main } = await import((inCheckout || !existsSync(built) ? source : built).href);
process.exitCode = await main(process.argv.slice(2));
process.exit();
