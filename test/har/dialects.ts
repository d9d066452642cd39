/**
 * Writes HAR files the way each capture tool does (field-notes-2 §7), from one neutral
 * description of the exchanges, so the reader is tested against each dialect's quirks:
 *  - Fiddler Classic: `connection` = client port, `blocked` -1, whole ms, dates in local
 *    offset with 7 decimals, request bodies as text at any size (bodySize is what counts),
 *    no serverIPAddress, unfinished sessions (no response) left out entirely;
 *  - Chrome DevTools (WebInspector): `connection` = socket id, `_resourceType`, `_priority`,
 *    `_initiator`, `_transferSize`, `_error` on a failed request (status 0), IPv6
 *    serverIPAddress in brackets, `send` never -1, a `pages` array;
 *  - mitmproxy savehar: no `connection`, `blocked` or `dns`; `connect`/`ssl` -1 on reused
 *    connections; no postData for BITS_POST (only POST/PUT/PATCH); response bodies inline.
 */
export interface CapturedExchange {
  /** Client TCP connection (Fiddler: its client port; Chrome: its socket id). */
  conn: number;
  method: string;
  url: string;
  requestHeaders: Array<[string, string]>;
  requestBody?: number;
  /** Absent: the response never arrived (the request was reset or timed out). */
  response?: { status: number; headers: Array<[string, string]>; body?: number };
  /** Epoch ms. */
  start: number;
  ms: number;
}

export type Dialect = 'fiddler' | 'chrome' | 'mitmproxy';

const hdrs = (h: Array<[string, string]>) => h.map(([name, value]) => ({ name, value }));
const statusText: Record<number, string> = { 200: 'OK', 201: 'Created', 404: 'Not Found', 416: 'Requested Range Not Satisfiable', 500: 'Internal Server Error' };

/** Fiddler writes the local time with its offset and 7 fraction digits: here UTC+01:00. */
function fiddlerTime(ms: number): string {
  const local = new Date(ms + 3_600_000).toISOString(); // 2026-11-29T17:35:32.123Z
  return `${local.slice(0, 23)}${String(ms % 1 === 0 ? 4567 : 0).padStart(4, '0')}+01:00`;
}

export function writeHar(dialect: Dialect, exchanges: CapturedExchange[]): object {
  const entries: object[] = [];
  for (const x of exchanges) {
    if (dialect === 'fiddler' && !x.response) continue; // Fiddler skips unfinished sessions
    const status = x.response?.status ?? 0;
    const wait = Math.max(0, x.ms - 1);
    const receive = x.response ? 1 : 0;
    const request: Record<string, unknown> = {
      method: x.method, url: x.url, httpVersion: 'HTTP/1.1', cookies: [], headers: hdrs(x.requestHeaders), queryString: [],
      headersSize: dialect === 'chrome' ? 300 : 250, bodySize: x.requestBody ?? 0,
    };
    if (dialect === 'fiddler' && x.requestBody) request.postData = { mimeType: 'application/octet-stream', text: 'x'.repeat(Math.min(x.requestBody, 64)) };
    if (dialect === 'chrome' && x.requestBody) request.postData = { mimeType: 'application/octet-stream', text: '' };
    const response: Record<string, unknown> = {
      status, statusText: statusText[status] ?? '', httpVersion: x.response ? 'HTTP/1.1' : '', cookies: [],
      headers: hdrs(x.response?.headers ?? []), content: { size: x.response?.body ?? 0, mimeType: 'text/html' },
      redirectURL: '', headersSize: x.response ? 120 : -1, bodySize: x.response ? x.response.body ?? 0 : -1,
    };
    const entry: Record<string, unknown> = { startedDateTime: '', time: wait + receive, request, response, cache: {} };
    switch (dialect) {
      case 'fiddler':
        entry.startedDateTime = fiddlerTime(x.start);
        entry.timings = { blocked: -1, dns: 0, connect: 0, send: 0, wait, receive, ssl: -1 };
        entry.connection = String(x.conn);
        break;
      case 'chrome':
        entry.startedDateTime = new Date(x.start).toISOString();
        entry.timings = { blocked: 0.5, dns: -1, ssl: -1, connect: -1, send: 0, wait: wait - 0.5 < 0 ? 0 : wait - 0.5, receive, _blocked_queueing: 0.3 };
        entry.time = (wait - 0.5 < 0 ? 0 : wait - 0.5) + 0.5 + receive;
        entry.connection = String(x.conn);
        entry.serverIPAddress = '[::1]';
        entry._resourceType = 'fetch';
        entry._priority = 'High';
        entry._initiator = { type: 'script' };
        entry._transferSize = 400 + (x.response?.body ?? 0);
        entry.pageref = 'page_1';
        if (!x.response) entry._error = 'net::ERR_CONNECTION_RESET';
        break;
      case 'mitmproxy':
        entry.startedDateTime = new Date(x.start).toISOString().replace('Z', '+00:00');
        entry.timings = { connect: -1, ssl: -1, send: 0, wait, receive };
        if (x.response?.body) (response.content as Record<string, unknown>).text = Buffer.from('ok').toString('base64');
        break;
    }
    entries.push(entry);
  }
  const creator = { fiddler: { name: 'Fiddler', version: '5.0.20253.3311' }, chrome: { name: 'WebInspector', version: '537.36' }, mitmproxy: { name: 'mitmproxy', version: '11.0.2' } }[dialect];
  const log: Record<string, unknown> = { version: '1.2', creator, entries };
  if (dialect === 'chrome') {
    log.browser = { name: 'Chrome', version: '131.0' };
    log.pages = [{ startedDateTime: new Date(exchanges[0]!.start).toISOString(), id: 'page_1', title: 'http://files.example.com/', pageTimings: { onContentLoad: -1, onLoad: -1 } }];
  }
  return { log };
}
