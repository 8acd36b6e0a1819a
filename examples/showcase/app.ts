/**
 * The showcase's entry: `hatchway serve examples/showcase/app.ts` (what `npm start` runs).
 * Redis when `REDIS_URL` is set, the in-process store otherwise (examples/showcase/store.ts).
 */
import { createShowcase } from './showcase.ts';
import { storeFromEnv } from './store.ts';

const store = await storeFromEnv();

export default await createShowcase(store);
