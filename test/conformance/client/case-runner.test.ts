/**
 * The client conformance runner as the gateway drives it: decide() before forwarding,
 * observe() once the exchange ended. Hand-built observations, no sockets.
 */
import { describe, expect, it } from 'vitest';
import { ClientCaseRunner } from '../../../src/conformance/client/case-runner.js';
import { decodeExchange, decodeRequest } from '../../../src/protocol/index.js';
import { Wire } from '../../sessions/factory.js';

const SID = '{11111111-1111-1111-1111-111111111111}';
const URL = '/uploads/f.bin';

describe('ClientCaseRunner', () => {
  it('decodes an observation once: the one it marks with its own decision shares the decoding of the raw one', () => {
    const runner = new ClientCaseRunner({ cases: ['lost-fragment-ack'] });
    expect(runner.idle()).toBe(true);
    const w = new Wire();
    runner.observe(w.create(URL, SID));
    expect(runner.idle()).toBe(false);
    // The client went away before any answer: no status, and the gateway did not mark it.
    const fragment = w.fragment(URL, SID, 0, 9, 10, { status: undefined });
    delete fragment.status;
    delete fragment.responseHeaders;
    const decision = runner.decide({
      exchangeId: fragment.id, connectionId: 1, clientAddress: '127.0.0.1', url: URL, now: fragment.startedAt,
      packet: decodeRequest(fragment.method, fragment.requestHeaders),
    });
    expect(decision?.action).toEqual({ kind: 'drop-ack' });
    runner.observe(fragment);
    // A later reader (the tracker, the metrics) finds the decoding already made, not a second one.
    expect(fragment.decoded).toBeDefined();
    expect(decodeExchange(fragment)).toBe(fragment.decoded);
    expect(runner.statuses()[0]).toMatchObject({ id: 'lost-fragment-ack', state: 'running', faultFired: true });
  });
});
