import { describe, expect, it } from 'vitest';
import { fromHar } from '../../src/har/from-har.js';
import { toHar } from '../../src/har/to-har.js';
import type { Observation } from '../../src/observation.js';

describe('HAR _bits: the injected mark', () => {
  it('survives export and import, and is dropped when malformed', () => {
    const obs: Observation = {
      id: 3, connectionId: 1, client: { address: '127.0.0.1', port: 5 }, method: 'BITS_POST', url: '/up/f.bin', httpVersion: '1.1',
      requestHeaders: [['Host', 'x'], ['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', '{5E53C221-F2D6-4BF2-B994-1DC43CEACA8D}'], ['Content-Length', '0']],
      startedAt: 1_700_000_000_000, requestBodyBytes: 0, status: 503,
      responseHeaders: [['BITS-Packet-Type', 'Ack'], ['Content-Length', '0']], responseBodyBytes: 0, respondedAt: 1_700_000_000_001,
      endedAt: 1_700_000_000_002, responder: 'gateway', injected: { id: 'inj-2', rule: 'close: status=503 times=1', action: 'answer' },
    };
    const har = JSON.parse(JSON.stringify(toHar([obs], { version: '0.1.0' })));
    expect(har.log.entries[0]._bits.injected).toEqual({ id: 'inj-2', rule: 'close: status=503 times=1', action: 'answer' });
    const back = fromHar(har);
    expect(back.ok && back.value.observations[0]!.injected).toEqual(obs.injected);
    har.log.entries[0]._bits.injected = { id: 'inj-2', rule: 'x', action: 'explode' };
    const bad = fromHar(har);
    expect(bad.ok && bad.value.observations[0]!.injected).toBeUndefined();
  });
});
