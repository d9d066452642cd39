import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { PinnedAgent } from '../../src/gateway/pinned-agent.js';
import { startRawUpstream, startUpstream, waitUntil, type TestUpstream } from './helpers.js';

let upstream: TestUpstream | undefined;
let agent: PinnedAgent | undefined;

afterEach(async () => {
  agent?.destroy();
  await upstream?.close();
  agent = undefined;
  upstream = undefined;
});

function get(path: string): Promise<{ status: number; error?: string }> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: upstream!.port, path, agent: agent! }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode! }));
    });
    req.on('error', (err) => resolve({ status: 0, error: err.message }));
    req.end();
  });
}

describe('PinnedAgent', () => {
  it('runs requests one after another on its single socket, queueing one issued while the socket is busy', async () => {
    upstream = await startUpstream(() => ({ status: 200, headers: [['Content-Length', '0']] }));
    let lost = 0;
    agent = new PinnedAgent(() => 7, () => lost++);
    agent.busy = true; // as the forwarder marks it around each exchange
    const [a, b] = await Promise.all([get('/a'), get('/b')]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect((await get('/c')).status).toBe(200);
    expect(upstream.requests.map((r) => [r.url, r.socketId])).toEqual([['/a', 1], ['/b', 1], ['/c', 1]]);
    expect(upstream.accepted).toBe(1);
    expect(agent.upstreamConnectionId).toBe(7);
    expect(lost).toBe(0);
  });

  it('never opens a second socket once the first closed: the request fails like a hang-up', async () => {
    upstream = await startUpstream(() => ({ status: 200, headers: [['Content-Length', '0']], close: true }));
    let lost = 0;
    agent = new PinnedAgent(() => 1, () => lost++);
    agent.busy = true;
    expect((await get('/a')).status).toBe(200);
    await waitUntil(() => lost === 1, 2_000, 'upstream socket lost');
    expect(agent.lost).toBe(true);
    expect(await get('/b')).toEqual({ status: 0, error: 'socket hang up' });
    expect(upstream.accepted).toBe(1);
  });

  it('destroys a socket that receives bytes while idle (poisoned)', async () => {
    upstream = await startRawUpstream((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      setTimeout(() => socket.write('junk'), 50);
    });
    let lost = 0;
    agent = new PinnedAgent(() => 1, () => lost++);
    agent.busy = true;
    expect((await get('/a')).status).toBe(200);
    agent.busy = false;
    await waitUntil(() => lost === 1, 2_000, 'socket destroyed');
    expect(agent.poisoned).toBe(true);
    expect(agent.upstreamSocket).toBeUndefined();
  });
});
