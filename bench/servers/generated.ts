// The generated body of the stream scenario: `size` bytes (config) in 64 KiB chunks, made in
// memory, never read from disk, one reused chunk so the generator itself costs nothing. A
// query `size=N` asks for another size (the runner's warm-up asks for less).
const CHUNK = Buffer.alloc(64 * 1024, 'x');

/** Yields `size` bytes of 'x'. */
export async function* generated(size: number): AsyncGenerator<Buffer> {
  for (let left = size; left > 0; left -= CHUNK.byteLength) yield left >= CHUNK.byteLength ? CHUNK : CHUNK.subarray(0, left);
}

/** The `size=N` of a query string, else `fallback`. */
export function sizeOf(query: string, fallback: number): number {
  const m = /(?:^|&)size=(\d+)/.exec(query);
  return m ? Number(m[1]) : fallback;
}
