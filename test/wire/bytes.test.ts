/**
 * The byte helpers that replace `Buffer` (src/wire/bytes.ts) give Buffer's answers: both the
 * native path (Node has a `Buffer`) and the portable one, loaded here a second time with
 * `globalThis.Buffer` hidden, as on workerd.
 */
import t from 'tap';
import fc from 'fast-check';
import * as native from '../../src/wire/bytes.ts';

const saved = globalThis.Buffer;
(globalThis as { Buffer?: unknown }).Buffer = undefined;
const again = '../../src/wire/bytes.ts?without-buffer'; // a second instance of the module
const portable = (await import(again)) as typeof native;
globalThis.Buffer = saved;

const text = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.string({ unit: fc.integer({ min: 0xd700, max: 0xe000 }).map((c) => String.fromCharCode(c)) }));
const bytes = fc.uint8Array({ maxLength: 100 });

for (const [name, lib] of [['native', native], ['portable', portable]] as const) {
  t.test(`${name}: utf8Length is Buffer.byteLength, lone surrogates included`, async (t) => {
    fc.assert(fc.property(text, (s) => lib.utf8Length(s) === Buffer.byteLength(s) && lib.utf8Length(s) === new TextEncoder().encode(s).byteLength));
    t.pass();
  });

  t.test(`${name}: concat is Buffer.concat, with and without a total`, async (t) => {
    fc.assert(
      fc.property(fc.array(bytes, { maxLength: 5 }), fc.option(fc.nat(300), { nil: undefined }), (parts, total) => {
        const got = lib.concat(parts, total);
        return got instanceof Uint8Array && Buffer.from(got).equals(Buffer.concat(parts, total));
      }),
    );
    t.pass();
  });

  t.test(`${name}: includesBytes is Buffer#indexOf !== -1`, async (t) => {
    const small = fc.uint8Array({ maxLength: 60 }).map((b) => b.map((x) => x % 4));
    fc.assert(fc.property(small, small.filter((n) => n.length > 0), (haystack, needle) => lib.includesBytes(haystack, needle) === Buffer.from(haystack).includes(Buffer.from(needle))));
    t.pass();
  });
}

t.test('base64url is Buffer#toString("base64url") for every length', async (t) => {
  fc.assert(fc.property(bytes, (b) => native.base64url(b) === Buffer.from(b).toString('base64url')));
  t.pass();
});

t.test('latin1 is Buffer#toString("latin1")', async (t) => {
  fc.assert(fc.property(bytes, (b) => native.latin1(b) === Buffer.from(b).toString('latin1')));
  t.pass();
});

t.test('timingSafeEqualStrings is string equality, lengths first', async (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (a, b) => native.timingSafeEqualStrings(a, b) === (a === b)));
  t.ok(native.timingSafeEqualStrings('hw1.abc', 'hw1.abc'));
  t.notOk(native.timingSafeEqualStrings('hw1.abc', 'hw1.abd'));
  t.notOk(native.timingSafeEqualStrings('\u0168', 'h'), 'a character is not its low byte (latin1 Buffers compared it so)');
});

t.test('randomBytes hands out fresh bytes of the asked size, across pool refills', async (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const b = native.randomBytes(18);
    t.equal(b.byteLength, 18);
    seen.add(Buffer.from(b).toString('hex'));
  }
  t.equal(seen.size, 200, 'no two alike');
  t.equal(native.randomBytes(5000).byteLength, 5000, 'more than a pool at once');
  const a = native.randomBytes(18);
  a.fill(0);
  t.not(Buffer.from(native.randomBytes(18)).toString('hex'), '0'.repeat(36), 'a caller writing into its bytes changes nothing handed out later');
});

t.test('bytesView and copyBytes hand Node code Buffers, as before, and plain bytes elsewhere', async (t) => {
  const bytes = new Uint8Array([104, 105, 33]).subarray(1);
  const view = native.bytesView(bytes);
  t.ok(Buffer.isBuffer(view) && view.toString() === 'i!', 'a Buffer over the same memory');
  bytes[0] = 106;
  t.equal(view.toString(), 'j!', 'not a copy');
  const copy = native.copyBytes(bytes);
  bytes[0] = 107;
  t.ok(Buffer.isBuffer(copy) && copy.toString() === 'j!', 'a copying Buffer');
  t.equal(portable.bytesView(bytes), bytes, 'without Buffer: the bytes themselves');
  const plain = portable.copyBytes(bytes);
  bytes[0] = 108;
  t.same([...plain], [107, 33], 'without Buffer: a copy');
});
