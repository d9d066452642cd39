import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/event-bus.js';
import type { Observation } from '../../src/observation.js';
import { BitsgateMetrics, createMetrics, statusClass } from '../../src/sinks/metrics.js';
import { decodeRequest } from '../../src/protocol/index.js';
import { packetKind } from '../../src/sessions/packet-record.js';
import { FakeSource, packet, summary, violation } from './fake-source.js';

function obs(patch: Partial<Observation> = {}): Observation {
  return {
    id: 1, connectionId: 1, client: { address: '127.0.0.1', port: 5000 }, method: 'BITS_POST', url: '/up/secret-name.bin',
    httpVersion: '1.1', requestHeaders: [['BITS-Packet-Type', 'FRAGMENT']], startedAt: 1000, requestBodyBytes: 4096,
    status: 200, responseHeaders: [['BITS-Packet-Type', 'Ack']], responseBodyBytes: 0, respondedAt: 1040, endedAt: 1042,
    responder: 'upstream', ...patch,
  };
}

describe('metrics sink', () => {
  it('counts sessions, outcomes, violations and packets from the bus', async () => {
    const src = new FakeSource();
    const m = createMetrics(src.bus, { defaultMetrics: false, version: '9.9.9' });
    src.emit({ type: 'session-created', session: summary('A') });
    src.emit({ type: 'session-created', session: summary('B') });
    src.emit({ type: 'packet', sessionId: 'A', packet: packet('fragment', { status: 416 }) });
    src.emit({ type: 'violation', violation: violation('close-incomplete', 'A') });
    src.emit({ type: 'session-ended', session: summary('A', { state: 'closed' }) });
    const text = await m.registry.metrics();
    expect(text).toContain('bitsgate_sessions{state="open"} 1');
    expect(text).toContain('bitsgate_sessions{state="closed"} 1');
    expect(text).toContain('bitsgate_sessions_created_total 2');
    expect(text).toContain('bitsgate_sessions_total{outcome="closed"} 1');
    expect(text).toContain('bitsgate_violations_total{code="close-incomplete",severity="error"} 1');
    expect(text).toContain('bitsgate_packets_total{type="fragment",status_class="4xx"} 1');
    expect(text).toContain('bitsgate_build_info{version="9.9.9"} 1');
  });

  it('records request latency and bytes from observations, without unbounded labels', async () => {
    const m = new BitsgateMetrics({ defaultMetrics: false });
    m.onObservation(obs());
    m.onObservation(obs({ method: 'GET', requestHeaders: [], requestBodyBytes: 0, responseBodyBytes: 10, endedAt: 1300 }));
    const text = await m.registry.metrics();
    expect(text).toContain('bitsgate_bytes_total{direction="request"} 4096');
    expect(text).toContain('bitsgate_bytes_total{direction="response"} 10');
    expect(text).toContain('bitsgate_request_duration_seconds_bucket{le="0.05",packet="fragment"} 1');
    expect(text).toContain('bitsgate_request_duration_seconds_bucket{le="0.25",packet="http"} 0');
    expect(text).toContain('bitsgate_request_duration_seconds_bucket{le="0.5",packet="http"} 1');
    expect(text).toContain('bitsgate_exchanges_total{responder="upstream",status_class="2xx"} 2');
    expect(text).not.toContain('secret-name');
    expect(text).not.toContain('127.0.0.1');
  });

  it('writes the duration histogram exactly: cumulative buckets by le, +Inf, sum, count, packet kinds in first-seen order', async () => {
    const m = new BitsgateMetrics({ defaultMetrics: false });
    const ping: Array<[string, string]> = [['BITS-Packet-Type', 'Ping']];
    // 5 ms lands in le="0.005" (bounds are inclusive); 61 s is past the last bound (+Inf only); -3 ms counts as 0.
    for (const ms of [5, 42, 61_000]) m.onObservation(obs({ endedAt: 1000 + ms }));
    m.onObservation(obs({ requestHeaders: ping, endedAt: 997 }));
    m.onObservation(obs({ requestHeaders: ping, endedAt: 1000.3 }));
    m.onObservation(obs({ method: 'GET', requestHeaders: [], endedAt: 1001 }));
    const text = await m.registry.metrics();
    const block = text.slice(text.indexOf('# HELP bitsgate_request_duration_seconds'), text.indexOf('# HELP bitsgate_log_dropped_bytes_total'));
    expect(block).toBe(EXPECTED_DURATION_BLOCK);
  });

  it('counts failed exchanges by reason, an upstream that closed without answering included', async () => {
    const m = new BitsgateMetrics({ defaultMetrics: false });
    m.onObservation(obs());
    const closed: Partial<Observation> = { error: 'upstream-closed', status: undefined, responder: undefined, responseHeaders: undefined };
    m.onObservation(obs(closed));
    m.onObservation(obs(closed));
    m.onObservation(obs({ error: 'Weird <text> from a recording' }));
    const text = await m.registry.metrics();
    expect(text).toContain('bitsgate_exchange_errors_total{error="upstream-closed"} 2');
    expect(text).toContain('bitsgate_exchange_errors_total{error="other"} 1');
    expect(text).toContain('bitsgate_exchanges_total{responder="none",status_class="none"} 2');
    expect(text).not.toContain('Weird');
  });

  it('takes authoritative session counts from the tracker when given', async () => {
    const m = new BitsgateMetrics({ defaultMetrics: false, stats: () => ({ sessionsByState: { open: 7, closed: 3 } }) });
    m.attach(new EventBus());
    m.setDashboardClients(() => 4);
    const text = await m.registry.metrics();
    expect(text).toContain('bitsgate_sessions{state="open"} 7');
    expect(text).toContain('bitsgate_dashboard_clients 4');
  });

  it('maps packet types and statuses to bounded labels', () => {
    // The label the duration histogram uses: the packet kind of the exchange's one decoding.
    const label = (method: string, requestHeaders: [string, string][]) => packetKind(decodeRequest(method, requestHeaders));
    expect(label('BITS_POST', [['bits-packet-type', 'Close-Session']])).toBe('close-session');
    expect(label('BITS_POST', [['BITS-Packet-Type', 'x'.repeat(500)]])).toBe('unknown');
    expect(label('BITS_POST', [])).toBe('unknown');
    expect(label('PROPFIND', [])).toBe('http');
    expect(statusClass(503)).toBe('5xx');
    expect(statusClass(undefined)).toBe('none');
    expect(statusClass(999)).toBe('none');
  });
});

/** What prom-client's own Histogram.observe wrote for the exact-bytes test's observations: the plain-field counting must write the same. */
const EXPECTED_DURATION_BLOCK = [
  '# HELP bitsgate_request_duration_seconds Time from request head to end of exchange, by packet type',
  '# TYPE bitsgate_request_duration_seconds histogram',
  'bitsgate_request_duration_seconds_bucket{le="0.001",packet="fragment"} 0',
  'bitsgate_request_duration_seconds_bucket{le="0.005",packet="fragment"} 1',
  'bitsgate_request_duration_seconds_bucket{le="0.01",packet="fragment"} 1',
  'bitsgate_request_duration_seconds_bucket{le="0.025",packet="fragment"} 1',
  'bitsgate_request_duration_seconds_bucket{le="0.05",packet="fragment"} 2',
  'bitsgate_request_duration_seconds_bucket{le="0.1",packet="fragment"} 2',
  'bitsgate_request_duration_seconds_bucket{le="0.25",packet="fragment"} 2',
  'bitsgate_request_duration_seconds_bucket{le="0.5",packet="fragment"} 2',
  'bitsgate_request_duration_seconds_bucket{le="1",packet="fragment"} 2',
  'bitsgate_request_duration_seconds_bucket{le="2.5",packet="fragment"} 2',
  'bitsgate_request_duration_seconds_bucket{le="5",packet="fragment"} 2',
  'bitsgate_request_duration_seconds_bucket{le="10",packet="fragment"} 2',
  'bitsgate_request_duration_seconds_bucket{le="30",packet="fragment"} 2',
  'bitsgate_request_duration_seconds_bucket{le="60",packet="fragment"} 2',
  'bitsgate_request_duration_seconds_bucket{le="+Inf",packet="fragment"} 3',
  'bitsgate_request_duration_seconds_sum{packet="fragment"} 61.047',
  'bitsgate_request_duration_seconds_count{packet="fragment"} 3',
  'bitsgate_request_duration_seconds_bucket{le="0.001",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="0.005",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="0.01",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="0.025",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="0.05",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="0.1",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="0.25",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="0.5",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="1",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="2.5",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="5",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="10",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="30",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="60",packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="+Inf",packet="ping"} 2',
  'bitsgate_request_duration_seconds_sum{packet="ping"} 0.00029999999999995455',
  'bitsgate_request_duration_seconds_count{packet="ping"} 2',
  'bitsgate_request_duration_seconds_bucket{le="0.001",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="0.005",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="0.01",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="0.025",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="0.05",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="0.1",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="0.25",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="0.5",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="1",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="2.5",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="5",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="10",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="30",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="60",packet="http"} 1',
  'bitsgate_request_duration_seconds_bucket{le="+Inf",packet="http"} 1',
  'bitsgate_request_duration_seconds_sum{packet="http"} 0.001',
  'bitsgate_request_duration_seconds_count{packet="http"} 1',
].join('\n') + '\n\n';
