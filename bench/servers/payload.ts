/** A JSON payload of about `size` bytes that compresses as real API responses do. */
export function payload(size: number): string {
  const items: string[] = [];
  for (let i = 0, length = 2; length < size; i++) {
    const item = JSON.stringify({ id: i, name: `item ${i}`, tags: ['alpha', 'beta', i % 7 === 0 ? 'gamma' : 'delta'], price: (i * 37) % 1000 });
    items.push(item);
    length += item.length + 1;
  }
  return `[${items.join(',')}]`;
}
