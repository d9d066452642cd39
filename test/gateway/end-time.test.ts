import { afterEach, describe, expect, it, vi } from 'vitest';
import { startGateway } from '../../src/gateway/index.js';
import { Http1ResponseImpl } from '../../src/gateway/http1/response.js';
import { bitsPost, CollectingSink, startUpstream, useGatewayFixture } from './helpers.js';

/**
 * An exchange's end time is taken before its last bytes reach the client, not when 'finish'
 * reports the write afterwards. Across processes (workers, fleet members) the client may
 * read the Ack and send its next packet to another process before this one runs again; an
 * end dated at 'finish' then lies after that packet's start, and the tracker sees two
 * requests of one session overlapping (a false close-while-busy). A process preempted
 * right after its write is simulated here by delaying 'finish'.
 */

const fx = useGatewayFixture();
const FINISH_DELAY_MS = 60;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the end time of an exchange', () => {
  it('precedes the moment the client has the whole answer, even when finish is late', async () => {
    const emit = Http1ResponseImpl.prototype.emit;
    vi.spyOn(Http1ResponseImpl.prototype, 'emit').mockImplementation(function (this: Http1ResponseImpl, event: string | symbol, ...args: unknown[]) {
      if (event === 'finish') {
        setTimeout(() => emit.call(this, event, ...args), FINISH_DELAY_MS);
        return true;
      }
      return emit.call(this, event, ...args);
    });
    fx.upstream = await startUpstream();
    const sink = new CollectingSink();
    fx.gateway = await startGateway({ upstream: fx.upstream.url, listen: { host: '127.0.0.1', port: 0 }, sinks: [sink] });
    const c = await fx.client();
    c.write(bitsPost('/up/f.bin', [['BITS-Packet-Type', 'Ping'], ['Content-Length', '0']]));
    const [answer] = await c.responsesAfter(1, 2_000);
    const answeredAt = Date.now();
    expect(answer!.status).toBe(200);
    const [obs] = await sink.waitFor(1, 2_000);
    expect(obs!.status).toBe(200);
    // Dated before the client had the bytes (the old code dated it FINISH_DELAY_MS later).
    expect(obs!.endedAt).toBeLessThanOrEqual(answeredAt);
    expect(obs!.endedAt).toBeGreaterThanOrEqual(obs!.startedAt);
  });
});
