// The bare Worker: workerd's baseline in bench/runtimes.ts, answering the hello response.
export default {
  fetch(_request: Request): Response {
    return new Response('Hello, world!', { headers: { 'content-type': 'text/plain;charset=UTF-8' } });
  },
};
