import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TlsErrorLog } from '../../src/sinks/tls-error-log.js';

function fakeLogger() {
  const lines: Array<[string, Record<string, unknown>, string]> = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg: string) => lines.push([level, obj, msg]);
  return { lines, logger: { warn: at('warn'), error: at('error') } as never };
}

describe('TLS error log', () => {
  it('counts every failure, logs once per cause per interval with what was folded in', async () => {
    const { lines, logger } = fakeLogger();
    const registry = new Registry();
    let now = 0;
    const log = new TlsErrorLog(logger, registry, 60_000, () => now);
    for (let i = 0; i < 5; i++) log.report({ cause: 'plain-http', message: 'plain "GET /" sent to the TLS port', remoteAddress: '10.0.0.1' });
    log.report({ cause: 'handshake-timeout', message: 'no bytes before the handshake timeout' });
    now = 60_000;
    log.report({ cause: 'plain-http', message: 'plain "GET /" sent to the TLS port' });
    expect(lines.map(([level, obj, msg]) => [level, obj.cause, obj.sinceLastLogged, msg])).toEqual([
      ['warn', 'plain-http', undefined, 'tls: plain "GET /" sent to the TLS port'],
      ['warn', 'handshake-timeout', undefined, 'tls: no bytes before the handshake timeout'],
      ['warn', 'plain-http', 4, 'tls: plain "GET /" sent to the TLS port'],
    ]);
    const text = await registry.metrics();
    expect(text).toContain('bitsgate_tls_errors_total{cause="plain-http"} 6');
    expect(text).toContain('bitsgate_tls_errors_total{cause="handshake-timeout"} 1');
  });
});
