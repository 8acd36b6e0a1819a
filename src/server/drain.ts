/**
 * Waiting for a writable side to take more: `'drain'`, or `'close'` when the peer is gone
 * (a `'drain'` that will never come must not hang the runner). One helper for every sink.
 */
import type { Writable } from 'node:stream';

/** Resolves when `stream` can take more data, or has closed; at once if it is not full. */
export function whenDrained(stream: Pick<Writable, 'writableNeedDrain' | 'destroyed' | 'on' | 'off'>): Promise<void> {
  if (stream.destroyed || !stream.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
