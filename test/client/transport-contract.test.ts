/** The transport contract suite (`test/transport-contract.ts`) against each client transport. */
import { HttpTransport } from '../../src/client/http-transport.js';
import { LineTransport } from '../../src/client/line-transport.js';
import { ZmqTransport } from '../../src/client/zmq-transport.js';
import { runTransportContract } from '../transport-contract.js';

runTransportContract('zmq', {
  uriOf: (endpoints) => endpoints.zmq as string,
  uriAt: (hostPort) => `tcp://${hostPort}`,
  create: (uri) => new ZmqTransport(uri),
});

runTransportContract('http', {
  uriOf: (endpoints) => endpoints.http as string,
  uriAt: (hostPort) => `http://${hostPort}`,
  create: (uri) => new HttpTransport(uri),
});

runTransportContract('line', {
  uriOf: (endpoints) => `line://${endpoints.line as string}`,
  uriAt: (hostPort) => `line://${hostPort}`,
  create: (uri) => new LineTransport(uri),
});
