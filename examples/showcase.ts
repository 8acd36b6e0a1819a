// Kept so `hatchway serve examples/showcase.ts` still works: the showcase now lives in examples/showcase/.
export { default } from './showcase/app.ts';
