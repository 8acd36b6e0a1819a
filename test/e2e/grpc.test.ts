/**
 * gRPC on the port that also serves REST, behind the same auth and logging middleware, with
 * @grpc/grpc-js as the client: it fails any call whose trailers lack grpc-status, so every
 * passing call proves real HTTP/2 trailers with END_STREAM.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { PROTO, createApp } from '../../examples/grpc/server.ts';
import { start } from '../fixtures/server.ts';
import { testCert } from '../fixtures/tls.ts';

const exec = promisify(execFile);
const definition = loader.loadSync(PROTO, { keepCase: true, defaults: true });
const proto = grpc.loadPackageDefinition(definition) as unknown as {
  hatchway: { example: { Echo: new (address: string, credentials: grpc.ChannelCredentials, options?: object) => EchoClient } };
};

interface Reply {
  text: string;
}
type Callback = (err: grpc.ServiceError | null, reply: Reply) => void;
interface EchoClient extends grpc.Client {
  Say(request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback): void;
  Fail(request: object, metadata: grpc.Metadata, callback: Callback): void;
  Repeat(request: object, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<Reply>;
  Join(metadata: grpc.Metadata, callback: Callback): grpc.ClientWritableStream<{ text: string }>;
}

const authorized = () => {
  const m = new grpc.Metadata();
  m.set('authorization', 'Bearer letmein');
  return m;
};

function unary(client: EchoClient, text: string, metadata = authorized(), options: grpc.CallOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => client.Say({ text }, metadata, options, (err, reply) => (err ? reject(err) : resolve(reply))));
}

async function everyKind(t: Test, client: EchoClient): Promise<void> {
  t.same(await unary(client, 'hello'), { text: 'you said: hello' }, 'unary');

  const replies: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const call = client.Repeat({ text: 'tick', count: 3, delay_ms: 5 }, authorized());
    call.on('data', (r: Reply) => replies.push(r.text));
    call.on('error', reject);
    call.on('end', resolve);
  });
  t.same(replies, ['tick #1', 'tick #2', 'tick #3'], 'server streaming');

  const joined = await new Promise<Reply>((resolve, reject) => {
    const call = client.Join(authorized(), (err, reply) => (err ? reject(err) : resolve(reply)));
    for (const text of ['a', 'b', 'c']) call.write({ text });
    call.end();
  });
  t.same(joined, { text: 'a b c' }, 'client streaming');

  const failed = await new Promise<grpc.ServiceError>((resolve) =>
    client.Fail({ code: grpc.status.NOT_FOUND, message: 'no such thing: ünïcode' }, authorized(), (err) => resolve(err!)),
  );
  t.equal(failed.code, grpc.status.NOT_FOUND, 'error status from the trailers');
  t.equal(failed.details, 'no such thing: ünïcode', 'grpc-message decoded');
}


t.test('all four call kinds over h2c, on the port that serves REST over HTTP/1.1 and HTTP/2', async (t) => {
  const lines: string[] = [];
  const { port } = await start(t, createApp(lines));
  const client = new proto.hatchway.example.Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  await everyKind(t, client);
  const h1 = await exec('curl', ['-s', '-w', ' %{http_version}', '-H', 'authorization: Bearer letmein', `http://127.0.0.1:${port}/api/hello`]);
  t.match(h1.stdout, /"protocol":"HTTP\/1\.1"\} 1\.1$/);
  const h2 = await exec('curl', ['-s', '--http2-prior-knowledge', '-w', ' %{http_version}', '-H', 'authorization: Bearer letmein', `http://127.0.0.1:${port}/api/hello`]);
  t.match(h2.stdout, /"protocol":"HTTP\/2"\} 2$/);
  t.ok(lines.includes('h2 /hatchway.example.Echo/Say 200 grpc-status=0'), 'the interception helper saw the final status');
  t.ok(lines.includes('h2 /hatchway.example.Echo/Fail 200 grpc-status=5'));
});

t.test('all four call kinds over TLS on the same port as REST', async (t) => {
  const { cert, key } = testCert();
  const { port } = await start(t, createApp(), { tls: { cert, key } });
  const client = new proto.hatchway.example.Echo(`localhost:${port}`, grpc.credentials.createSsl(Buffer.from(cert)));
  t.teardown(() => client.close());
  await everyKind(t, client);
  const rest = await exec('curl', ['-s', '--http2', '--cacert', testCert().certPath, '-w', ' %{http_version}', '-H', 'authorization: Bearer letmein', `https://localhost:${port}/api/hello`]);
  t.match(rest.stdout, /"protocol":"HTTP\/2"\} 2$/);
});

t.test('a call without credentials fails UNAUTHENTICATED, produced by the ordinary auth middleware', async (t) => {
  let ran = false;
  const { port } = await start(t, createApp());
  const client = new proto.hatchway.example.Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const err = (await unary(client, 'x', new grpc.Metadata()).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
  t.equal(err.code, grpc.status.UNAUTHENTICATED);
  t.notOk(ran);
});

t.test('a deadline exceeded is reported as DEADLINE_EXCEEDED and the server stops the call', async (t) => {
  const lines: string[] = [];
  const { port, server } = await start(t, createApp(lines));
  const client = new proto.hatchway.example.Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const replies: string[] = [];
  const err = await new Promise<grpc.ServiceError>((resolve) => {
    const call = client.Repeat({ text: 'slow', count: 50, delay_ms: 100 }, authorized(), { deadline: Date.now() + 350 });
    call.on('data', (r: Reply) => replies.push(r.text));
    call.on('error', resolve);
  });
  t.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
  t.ok(replies.length >= 1 && replies.length < 50, `got ${replies.length} replies before the deadline`);
  for (let i = 0; i < 100 && server.inFlight > 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(server.inFlight, 0, 'the server ended the call too');
});

t.test('the same gRPC handler answers curl over HTTP/1.1 through the emulated stream', async (t) => {
  const { port } = await start(t, createApp());
  // One framed Message { text: "hi" }: flag 0, length 4, field 1 (0x0a), length 2, "hi".
  const framed = '\\x00\\x00\\x00\\x00\\x04\\x0a\\x02hi';
  const script = `printf '${framed}' | curl -s --raw --http1.1 -H 'TE: trailers' -H 'content-type: application/grpc' -H 'authorization: Bearer letmein' --data-binary @- http://127.0.0.1:${port}/hatchway.example.Echo/Say`;
  const { stdout } = await exec('bash', ['-c', script], { encoding: 'latin1' });
  t.match(stdout, /you said: hi/, 'the reply message');
  t.match(stdout, /\r\n0\r\ngrpc-status: 0\r\n\r\n$/, 'grpc-status arrives as an HTTP/1.1 trailer');
  const without = await exec('bash', ['-c', script.replace("-H 'TE: trailers' ", '') + ' -o /dev/null -w "%{http_code}"']);
  t.equal(without.stdout, '400', 'without TE: trailers, a clear 400 rather than a call with no status');
});

t.test('a server stream over HTTP/1.1 (emulated) delivers every message its handler writes later, then grpc-status', async (t) => {
  const { port } = await start(t, createApp());
  // RepeatRequest { text: "tick", count: 3, delay_ms: 20 }: the replies are written after the
  // token body has gone, into the trailers registration's body (they were once dropped).
  const framed = '\\x00\\x00\\x00\\x00\\x0a\\x0a\\x04tick\\x10\\x03\\x18\\x14';
  const script = `printf '${framed}' | curl -s --raw --http1.1 -H 'TE: trailers' -H 'content-type: application/grpc' -H 'authorization: Bearer letmein' --data-binary @- http://127.0.0.1:${port}/hatchway.example.Echo/Repeat`;
  const { stdout } = await exec('bash', ['-c', script], { encoding: 'latin1' });
  t.match(stdout, /tick #1[^]*tick #2[^]*tick #3/, 'all three replies');
  t.match(stdout, /\r\n0\r\ngrpc-status: 0\r\n\r\n$/, 'then the status trailer');
});

t.test("a handler's close() mid-response resets the stream without ending it first", async (t) => {
  const { connect, constants } = await import('node:http2');
  const { upgradeTo } = await import('../../src/index.ts');
  const app = upgradeTo(async (stream) => {
    stream.respond(200, [['content-type', 'text/plain']]);
    stream.write('partial');
    await new Promise((r) => setTimeout(r, 20));
    stream.close(constants.NGHTTP2_CANCEL);
  });
  const { url } = await start(t, app);
  const client = connect(url);
  client.on('error', () => {});
  t.teardown(() => client.close());
  const req = client.request({ ':path': '/' });
  req.on('error', () => {});
  let ended = false;
  let body = '';
  req.on('data', (d: Buffer) => (body += String(d)));
  req.on('end', () => (ended = true));
  await new Promise((resolve) => req.on('close', resolve));
  t.equal(body, 'partial');
  t.notOk(ended, 'no END_STREAM: the truncated response does not look complete');
  t.not(req.rstCode, constants.NGHTTP2_NO_ERROR, 'RST_STREAM with an error code');
});
