// Runs one of the workerd-*.ts Workers in workerd through miniflare (bundled as wrangler would,
// no nodejs_compat) for bench/runtimes.ts. Prints {"port","pid"}: the pid is the workerd process,
// whose CPU time the bench reads (it serves the port itself). Exits when stdin closes.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleWorker, startWorker } from '../../test/runtimes/fixtures/bundle.ts';

const which = process.argv[2] === 'hatchway' ? 'hatchway' : 'bare';
const running = await startWorker(await bundleWorker(fileURLToPath(new URL(`./workerd-${which}.ts`, import.meta.url))));
// This process's children are esbuild's service and workerd: the one whose command is workerd.
const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
const pid = children.find((child) => readFileSync(`/proc/${child}/comm`, 'utf8').trim() === 'workerd');
if (pid === undefined) throw new Error(`no workerd among ${children.join(', ')}`);
console.log(JSON.stringify({ port: Number(running.url.port), pid }));
process.stdin.on('data', () => {});
process.stdin.on('end', () => void running.dispose().then(() => process.exit(0)));
