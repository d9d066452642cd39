/**
 * Builds observations the way the gateway would record them, with increasing ids and a
 * fake clock: one exchange takes 1 ms and the next starts 1 ms after it ended (sequential).
 * Override startedAt/endedAt to model overlapping requests.
 */
import type { HeaderList, Observation } from '../../src/observation.js';

export const GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';

export interface ExchangeOverrides extends Partial<Observation> {
  /** Extra request headers appended after the BITS ones. */
  extra?: HeaderList;
  /** Extra response headers. */
  extraResponse?: HeaderList;
}

export class Wire {
  private nextId = 1;
  clock: number;
  constructor(readonly client = '127.0.0.1', start = 1_700_000_000_000, readonly host = 'files.example.com', readonly connectionId = 1) {
    this.clock = start;
  }

  exchange(method: string, url: string, requestHeaders: HeaderList, status: number | undefined, responseHeaders: HeaderList | undefined, o: ExchangeOverrides = {}): Observation {
    const startedAt = o.startedAt ?? this.clock;
    const endedAt = o.endedAt ?? startedAt + 1;
    this.clock = Math.max(this.clock, endedAt + 1);
    const { extra, extraResponse, ...rest } = o;
    const obs: Observation = {
      id: this.nextId++,
      connectionId: this.connectionId,
      client: { address: this.client, port: 50000 },
      method,
      url,
      httpVersion: '1.1',
      requestHeaders: [['Host', this.host], ...requestHeaders, ...(extra ?? [])],
      startedAt,
      requestBodyBytes: 0,
      responseBodyBytes: 0,
      endedAt,
      responder: 'upstream',
      ...(status !== undefined ? { status, respondedAt: endedAt, responseHeaders: [...(responseHeaders ?? []), ...(extraResponse ?? [])] } : {}),
      ...rest,
    };
    return obs;
  }

  ping(url = '/up/f.bin', o: ExchangeOverrides = {}): Observation {
    return this.exchange('BITS_POST', url, [['BITS-Packet-Type', 'Ping']], 200, [['BITS-Packet-Type', 'Ack'], ['Content-Length', '0']], o);
  }

  create(url: string, sid: string, o: ExchangeOverrides & { status?: number; hostId?: string; protocol?: string } = {}): Observation {
    const { status = 201, hostId, protocol = GUID, ...rest } = o;
    const resp: [string, string][] = [['BITS-Packet-Type', 'Ack'], ['BITS-Protocol', protocol], ['BITS-Session-Id', sid], ['Content-Length', '0']];
    if (hostId) resp.push(['BITS-Host-Id', hostId]);
    return this.exchange('BITS_POST', url, [['BITS-Packet-Type', 'Create-Session'], ['BITS-Supported-Protocols', GUID], ['Content-Length', '0']], status, resp, rest);
  }

  fragment(url: string, sid: string, start: number, end: number, total: number,
    o: ExchangeOverrides & { status?: number; received?: number | null; replyUrl?: string; contentLength?: number } = {}): Observation {
    const { status = 200, received = end + 1, replyUrl, contentLength = end - start + 1, ...rest } = o;
    const resp: [string, string][] = [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', sid]];
    if (received !== null) resp.push(['BITS-Received-Content-Range', String(received)]);
    if (replyUrl) resp.push(['BITS-Reply-URL', replyUrl]);
    resp.push(['Content-Length', '0']);
    return this.exchange('BITS_POST', url, [
      ['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', sid], ['Content-Name', 'f.bin'],
      ['Content-Range', `bytes ${start}-${end}/${total}`], ['Content-Length', String(contentLength)],
    ], status, resp, { requestBodyBytes: end - start + 1, ...rest });
  }

  close(url: string, sid: string, o: ExchangeOverrides & { status?: number; errorCode?: string } = {}): Observation {
    const { status = 200, errorCode, ...rest } = o;
    const resp: [string, string][] = [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', sid], ['Content-Length', '0']];
    if (errorCode) resp.push(['BITS-Error-Code', errorCode], ['BITS-Error-Context', '0x5']);
    return this.exchange('BITS_POST', url, [['BITS-Packet-Type', 'Close-Session'], ['BITS-Session-Id', sid], ['Content-Length', '0']], status, resp, rest);
  }

  cancel(url: string, sid: string, o: ExchangeOverrides & { status?: number } = {}): Observation {
    const { status = 200, ...rest } = o;
    return this.exchange('BITS_POST', url, [['BITS-Packet-Type', 'Cancel-Session'], ['BITS-Session-Id', sid], ['Content-Length', '0']], status,
      [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', sid], ['Content-Length', '0']], rest);
  }

  get(url: string, o: ExchangeOverrides & { status?: number } = {}): Observation {
    const { status = 200, ...rest } = o;
    return this.exchange('GET', url, [], status, [['Content-Length', '5']], { responseBodyBytes: 5, ...rest });
  }

  /** A complete, well-formed upload: create, fragments of `chunk` bytes, optional reply GET, close. */
  upload(url: string, sid: string, total: number, chunk: number, reply?: string): Observation[] {
    const out = [this.create(url, sid)];
    for (let s = 0; s < total; s += chunk) {
      const e = Math.min(total, s + chunk) - 1;
      out.push(this.fragment(url, sid, s, e, total, e === total - 1 && reply ? { replyUrl: reply } : {}));
    }
    if (reply) out.push(this.get(reply));
    out.push(this.close(url, sid));
    return out;
  }
}

export const codes = (events: { type: string; violation?: { code: string } }[]): string[] =>
  events.filter((e) => e.type === 'violation').map((e) => e.violation!.code);
