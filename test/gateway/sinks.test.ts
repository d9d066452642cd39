import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { SinkFanout } from '../../src/gateway/sink-fanout.js';
import type { Observation } from '../../src/observation.js';
import { cleanText, createLogger } from '../../src/sinks/logger.js';
import { Recorder, RECORDING_META } from '../../src/sinks/recorder.js';
import { RequestLog, requestLogLine } from '../../src/sinks/request-log.js';

const dir = mkdtempSync(join(tmpdir(), 'bitsgate-sinks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function obs(over: Partial<Observation> = {}): Observation {
  return {
    id: 7, connectionId: 3, client: { address: '127.0.0.1', port: 5555 }, method: 'BITS_POST', url: '/up/f.bin',
    httpVersion: '1.1',
    requestHeaders: [['Host', 'h'], ['bits-packet-type', 'CREATE-SESSION'], ['Authorization', 'NTLM c2VjcmV0']],
    startedAt: 1_000, requestBodyBytes: 0, status: 201,
    responseHeaders: [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', '{abc}']],
    responseBodyBytes: 0, respondedAt: 1_010, endedAt: 1_012, responder: 'upstream', upstreamConnectionId: 1,
    ...over,
  };
}

function memoryLogger(level: 'info' | 'debug' = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: createLogger({ level, destination }), lines };
}

describe('recorder', () => {
  it('writes the meta line to a new file, then one observation per line, without bodies', async () => {
    const file = join(dir, 'new.ndjson');
    const rec = await Recorder.open(file);
    rec.onObservation(obs());
    rec.onObservation(obs({ id: 8, error: 'upstream-timeout', status: 504, responder: 'gateway' }));
    await rec.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toEqual(RECORDING_META);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toEqual({ type: 'observation', ...obs() });
    expect(lines[2]).toMatchObject({ type: 'observation', id: 8, error: 'upstream-timeout' });
  });

  it('appends to a non-empty file without a second meta line; an empty file gets one', async () => {
    const file = join(dir, 'existing.ndjson');
    writeFileSync(file, JSON.stringify(RECORDING_META) + '\n');
    const rec = await Recorder.open(file);
    rec.onObservation(obs());
    await rec.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.filter((l) => l.includes('"meta"'))).toHaveLength(1);
    expect(lines).toHaveLength(2);
    const empty = join(dir, 'empty.ndjson');
    writeFileSync(empty, '');
    const rec2 = await Recorder.open(empty);
    await rec2.close();
    expect(JSON.parse(readFileSync(empty, 'utf8'))).toEqual(RECORDING_META);
  });

  it('drops (and counts) observations when the disk falls behind, and records the gap', async () => {
    const file = join(dir, 'slow.ndjson');
    const rec = await Recorder.open(file, { maxBufferedBytes: 1 });
    for (let i = 0; i < 50; i++) rec.onObservation(obs({ id: i }));
    expect(rec.droppedCount).toBeGreaterThan(0);
    await rec.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    const dropped = lines.find((l) => l.type === 'dropped');
    expect(dropped.count + lines.filter((l) => l.type === 'observation').length).toBe(50);
  });

  it('rejects a path it cannot open', async () => {
    await expect(Recorder.open(join(dir, 'missing-dir', 'x.ndjson'))).rejects.toThrow();
  });
});

describe('request log', () => {
  it('logs one info line per exchange with packet type, session id, status, bytes and ms', () => {
    const { logger, lines } = memoryLogger();
    new RequestLog(logger).onObservation(obs());
    logger.flush();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30, msg: 'exchange', method: 'BITS_POST', url: '/up/f.bin', packet: 'create-session', session: '{abc}',
      status: 201, reqBytes: 0, resBytes: 0, ms: 12, ex: 7, conn: 3, upstreamConn: 1,
    });
  });

  it('at info, samples exchanges that went through: one line per interval, with how many it skipped', () => {
    const { logger, lines } = memoryLogger();
    const log = new RequestLog(logger);
    for (let i = 0; i < 5; i++) log.onObservation(obs({ id: i, endedAt: 1_000 + i * 100 }));
    log.onObservation(obs({ id: 9, endedAt: 2_000 }));
    expect(lines.map((l) => [l.ex, l.sampled, l.skipped])).toEqual([[0, true, 0], [9, true, 4]]);
  });

  it('at info, logs every failed exchange whatever the sampling', () => {
    const { logger, lines } = memoryLogger();
    const log = new RequestLog(logger);
    log.onObservation(obs({ id: 1 }));
    log.onObservation(obs({ id: 2, error: 'upstream-timeout', status: 504, responder: 'gateway' }));
    log.onObservation(obs({ id: 3, error: 'client-aborted', status: undefined }));
    log.onObservation(obs({ id: 4 }));
    expect(lines.map((l) => [l.ex, l.msg])).toEqual([[1, 'exchange'], [2, 'exchange failed'], [3, 'exchange failed']]);
  });

  it('at debug, logs every exchange, unsampled', () => {
    const { logger, lines } = memoryLogger('debug');
    const log = new RequestLog(logger);
    for (let i = 0; i < 3; i++) log.onObservation(obs({ id: i }));
    expect(lines.map((l) => [l.ex, l.level, l.sampled])).toEqual([[0, 20, undefined], [1, 20, undefined], [2, 20, undefined]]);
  });

  it('logs upstream faults at error and client faults at warn', () => {
    const { logger, lines } = memoryLogger();
    const log = new RequestLog(logger);
    log.onObservation(obs({ error: 'upstream-timeout', status: 504, responder: 'gateway' }));
    log.onObservation(obs({ error: 'client-aborted', status: undefined }));
    log.onObservation(obs({ error: 'cl-and-te', status: 400, responder: 'gateway', requestHeaders: [] }));
    expect(lines.map((l) => l.level)).toEqual([50, 40, 40]);
    expect(lines[0]).toMatchObject({ msg: 'exchange failed', error: 'upstream-timeout' });
  });

  it('strips control characters and truncates traffic text (log injection)', () => {
    const line = requestLogLine(obs({ url: '/a\r\n{"level":60,"msg":"forged"}\u001b[31m' + 'x'.repeat(1000) }));
    expect(line.url).not.toMatch(/[\r\n\u001b]/);
    expect(line.url.length).toBeLessThan(300);
    expect(cleanText('a\u202eb\u0000c')).toBe('a?b?c');
  });

  it('redacts credentials in debug lines', () => {
    const { logger, lines } = memoryLogger('debug');
    new RequestLog(logger).onObservation(obs());
    const req = lines[0]!.req as { headers: Record<string, string> };
    expect(req.headers.authorization).toBe('[redacted]');
    expect(req.headers['bits-packet-type']).toBe('CREATE-SESSION');
    expect(JSON.stringify(lines)).not.toContain('c2VjcmV0');
  });
});

describe('sink fan-out', () => {
  it('isolates a throwing sink: later sinks still get the observation and the error is reported', () => {
    const got: number[] = [];
    const errors: string[] = [];
    const fan = new SinkFanout([
      { onObservation: () => { throw new Error('boom'); }, onExchangeStart: () => { throw new Error('boom2'); } },
      { onObservation: (o) => got.push(o.id) },
    ], (err, phase) => errors.push(`${phase}:${(err as Error).message}`));
    fan.onExchangeStart(obs());
    fan.onObservation(obs());
    fan.flush(); // delivery is queued off the response path (sink-queue.test.ts)
    expect(got).toEqual([7]);
    expect(errors).toEqual(['start:boom2', 'observation:boom']);
  });
});
