// express@4 is installed as `express4` (npm alias) for the side-by-side tests; its API is
// typed well enough by @types/express (5) for what the tests use.
declare module 'express4' {
  import express from 'express';
  export default express;
}
