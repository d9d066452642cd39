/**
 * TLS failures on the listener (bad handshakes, plain HTTP to the TLS port, client
 * certificates, failed reloads): every one counted in `bitsgate_tls_errors_total{cause}`,
 * logged once per cause per interval with how many were folded into it, so a scanner
 * hammering the port cannot flood the log.
 */
import type pino from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { TlsErrorReport } from '../gateway/index.js';

export const TLS_LOG_INTERVAL_MS = 60_000;

export class TlsErrorLog {
  private readonly counter: Counter<'cause'> | undefined;
  /** Per cause: when it was last logged and how many came since. */
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: pino.Logger,
    registry: Registry | undefined,
    private readonly intervalMs = TLS_LOG_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.counter = registry
      ? new Counter({ name: 'bitsgate_tls_errors_total', help: 'TLS failures on the gateway listener, by cause', labelNames: ['cause'], registers: [registry] })
      : undefined;
  }

  report(r: TlsErrorReport): void {
    this.counter?.inc({ cause: r.cause });
    const now = this.now();
    const last = this.lastLogged.get(r.cause);
    if (last && now - last.at < this.intervalMs) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.lastLogged.set(r.cause, { at: now, suppressed: 0 });
    const level = r.cause === 'reload-failed' ? 'error' : 'warn';
    // The message and code come from OpenSSL or our own fixed text; the address is an IP.
    this.logger[level]({ cause: r.cause, code: r.code, client: r.remoteAddress, ...(suppressed && { sinceLastLogged: suppressed }) },
      `tls: ${r.message}`);
  }
}
