// http2-express ships no types: it takes the express module and returns an Express app.
declare module 'http2-express' {
  import type express from 'express';
  export default function http2Express(module: typeof express): express.Express;
}
