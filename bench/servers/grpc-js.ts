// @grpc/grpc-js's own server with the example Echo service's unary Say (h2c).
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ready } from './common.ts';

const proto = fileURLToPath(new URL('../../examples/grpc/echo.proto', import.meta.url));
const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(proto)) as unknown as {
  hatchway: { example: { Echo: { service: grpc.ServiceDefinition } } };
};
const server = new grpc.Server();
server.addService(pkg.hatchway.example.Echo.service, {
  Say: (call: grpc.ServerUnaryCall<{ text: string }, { text: string }>, callback: grpc.sendUnaryData<{ text: string }>) => {
    callback(null, { text: `you said: ${call.request.text}` });
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  ready(port);
});
