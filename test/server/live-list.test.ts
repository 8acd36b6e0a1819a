import t from 'tap';
import { LiveList, type Linked } from '../../src/server/live-list.ts';

class Item implements Linked<Item> {
  prev: Item | undefined = undefined;
  next: Item | undefined = undefined;
  listed = false;
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

const names = (list: LiveList<Item>): string[] => [...list].map((i) => i.name);

t.test('add and delete keep the size and the order, newest first', async (t) => {
  const list = new LiveList<Item>();
  const [a, b, c] = [new Item('a'), new Item('b'), new Item('c')];
  list.add(a);
  list.add(b);
  list.add(c);
  list.add(b); // listed already: nothing
  t.same(names(list), ['c', 'b', 'a']);
  t.equal(list.size, 3);
  t.ok(list.delete(b), 'a middle member');
  t.notOk(list.delete(b), 'a second delete finds nothing');
  t.same(names(list), ['c', 'a']);
  t.ok(list.delete(c), 'the head');
  t.ok(list.delete(a), 'the last');
  t.equal(list.size, 0);
  t.same(names(list), []);
});

t.test('a member that left points at nothing (no chain for the garbage collector to follow)', async (t) => {
  const list = new LiveList<Item>();
  const items = ['a', 'b', 'c'].map((n) => new Item(n));
  for (const i of items) list.add(i);
  list.delete(items[1]!);
  t.equal(items[1]!.prev, undefined);
  t.equal(items[1]!.next, undefined);
  t.equal(items[1]!.listed, false);
  t.equal(items[2]!.next, items[0], 'its neighbours are linked to each other');
  t.equal(items[0]!.prev, items[2]);
});

t.test('the visited member may leave; one that another visit removes ends the pass', async (t) => {
  const list = new LiveList<Item>();
  const items = ['a', 'b', 'c', 'd'].map((n) => new Item(n));
  for (const i of items) list.add(i);
  const seen: string[] = [];
  for (const i of list) {
    seen.push(i.name);
    list.delete(i);
  }
  t.same(seen, ['d', 'c', 'b', 'a'], 'every member visited while each leaves in turn');
  t.equal(list.size, 0);

  for (const i of items) list.add(i);
  const visited: string[] = [];
  for (const i of list) {
    visited.push(i.name);
    if (i.name === 'd') list.delete(items[2]!); // c, the next one, leaves
  }
  t.same(visited, ['d'], 'the pass ends rather than visit a member that left');
  t.same(names(list), ['d', 'b', 'a']);
});

t.test('a member re-added after leaving is listed once', async (t) => {
  const list = new LiveList<Item>();
  const a = new Item('a');
  list.add(a);
  list.delete(a);
  list.add(a);
  t.same(names(list), ['a']);
  t.equal(list.size, 1);
});
