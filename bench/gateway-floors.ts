/**
 * Two reference forwarders for the gateway bench's Ping phase, NOT products: they answer
 * "how fast could a Node forwarder of this design be at all, on this machine, in this run?"
 *
 *   clientrequest - the least a forwarder built on Node's http client can do per request:
 *                   split the head, one `http.request` through the gateway's own PinnedAgent
 *                   (one upstream socket per client connection, no pool), write the Ack head
 *                   back. No http-proxy, no listener, no exchange, no observation, no sink.
 *                   http-proxy creates exactly such a ClientRequest per request, so no
 *                   gateway that keeps http-proxy as its engine can beat this row.
 *   raw           - the same forwarding without a ClientRequest: request bytes written to the
 *                   pinned upstream socket as they came, the answer's head found by hand and
 *                   relayed. What an engine NOT built on Node's http client could reach.
 *
 * Both handle only what the Ping load sends (bodiless requests, Content-Length: 0 answers):
 * they are yardsticks, not proxies.
 */
import http from 'node:http';
import net from 'node:net';
import { PinnedAgent } from '../src/gateway/pinned-agent.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Calls `onHead(head)` for each complete head arriving on `socket` (bodiless messages only). */
function eachHead(socket: net.Socket, onHead: (head: Buffer) => void): void {
  let pending: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    let data = pending ? Buffer.concat([pending, chunk]) : chunk;
    let end: number;
    while ((end = data.indexOf(CRLFCRLF)) >= 0) {
      onHead(data.subarray(0, end + 4));
      data = data.subarray(end + 4);
    }
    pending = data.length > 0 ? data : undefined;
  });
}

/** See the file comment: one ClientRequest per request, nothing else. */
export function listenClientRequestFloor(upstreamPort: number, ready: (port: number) => void): void {
  let upstreamIds = 0;
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    client.on('error', () => {});
    const agent = new PinnedAgent(() => ++upstreamIds, () => client.destroy());
    agent.bind(undefined);
    eachHead(client, (head) => {
      const lines = head.toString('latin1').split('\r\n');
      const [method, path] = lines[0]!.split(' ');
      const req = http.request({ host: '127.0.0.1', port: upstreamPort, method, path, agent, setHost: false });
      for (let i = 1; i < lines.length - 2; i++) {
        const line = lines[i]!;
        const colon = line.indexOf(':');
        req.setHeader(line.slice(0, colon), line.slice(colon + 1).trim());
      }
      agent.busy = true;
      req.on('response', (res) => {
        let out = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n`;
        for (let i = 0; i < res.rawHeaders.length; i += 2) out += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
        client.write(`${out}\r\n`, 'latin1');
        res.on('end', () => { agent.busy = false; });
        res.resume();
      });
      req.on('error', () => client.destroy());
      req.end();
    });
  });
  server.listen(0, '127.0.0.1', () => ready((server.address() as net.AddressInfo).port));
}

/** See the file comment: bytes through, heads found by hand, no http client. */
export function listenRawFloor(upstreamPort: number, ready: (port: number) => void): void {
  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    eachHead(client, (head) => upstream.write(head));
    eachHead(upstream, (head) => client.write(head));
  });
  server.listen(0, '127.0.0.1', () => ready((server.address() as net.AddressInfo).port));
}
