import { describe, expect, it } from 'vitest';
import type { Observation } from '../../src/observation.js';
import { decodeRequest } from '../../src/protocol/index.js';
import { InjectionRegistry, type InjectionRequest } from '../../src/inject/registry.js';
import { parseInjectionRule } from '../../src/inject/rule-syntax.js';

const SID = '{5E53C221-F2D6-4BF2-B994-1DC43CEACA8D}';
const OTHER = '{11111111-2222-3333-4444-555555555555}';

function request(type: string | null, opts: { session?: string; url?: string; client?: string; connectionId?: number; range?: string } = {}): InjectionRequest {
  const headers: [string, string][] = [];
  if (type !== null) headers.push(['BITS-Packet-Type', type]);
  if (opts.session) headers.push(['BITS-Session-Id', opts.session]);
  if (opts.range) headers.push(['Content-Range', opts.range], ['Content-Length', '10']);
  return {
    exchangeId: 1,
    connectionId: opts.connectionId ?? 1,
    clientAddress: opts.client ?? '127.0.0.1',
    url: opts.url ?? '/uploads/a.bin',
    packet: type === null ? decodeRequest('GET', headers) : decodeRequest('BITS_POST', headers),
    now: 0,
  };
}

function registry(...rules: string[]): InjectionRegistry {
  const r = new InjectionRegistry({ now: () => 1000 });
  for (const text of rules) r.add(parseInjectionRule(text), 'cli');
  return r;
}

describe('InjectionRegistry', () => {
  it('is idle without rules, and an idle registry counts nothing (so the gateway may skip asking it)', () => {
    const r = registry();
    expect(r.idle()).toBe(true);
    for (let i = 0; i < 3; i++) expect(r.decide(request('Fragment', { session: SID, range: 'bytes 0-9/20' }))).toBeUndefined();
    const added = r.add(parseInjectionRule('fragment#2: status=503'), 'cli');
    expect(r.idle()).toBe(false);
    expect(r.decide(request('Fragment', { session: SID, range: 'bytes 0-9/20' }))).toBeUndefined();
    expect(r.decide(request('Fragment', { session: SID, range: 'bytes 0-9/20' }))?.action).toEqual({ kind: 'answer', status: 503 });
    r.remove(added.id);
    expect(r.idle()).toBe(true);
  });

  it('fires on the packet type it selects, never on others', () => {
    const r = registry('close: drop-ack');
    expect(r.decide(request('Fragment', { session: SID, range: 'bytes 0-9/20' }))).toBeUndefined();
    expect(r.decide(request(null))).toBeUndefined();
    const d = r.decide(request('Close-Session', { session: SID }));
    expect(d).toEqual({ injectionId: 'inj-1', rule: parseInjectionRule('close: drop-ack'), action: { kind: 'drop-ack' } });
    expect(r.list()).toEqual([{ id: 'inj-1', rule: parseInjectionRule('close: drop-ack'), origin: 'cli', fired: 1, spent: false, addedAt: 1000 }]);
  });

  it('any matches every request, BITS or not', () => {
    const r = registry('any: delay=1s');
    expect(r.decide(request(null))?.action).toEqual({ kind: 'delay', ms: 1000 });
    expect(r.decide(request('Ping'))?.action).toEqual({ kind: 'delay', ms: 1000 });
  });

  it('#N counts requests of that type per session, and per connection without a session', () => {
    const r = registry('fragment#3: status=503', 'create#2: status=500');
    const frag = (s: string) => r.decide(request('Fragment', { session: s, range: 'bytes 0-9/20' }));
    expect(frag(SID)).toBeUndefined();
    expect(frag(SID)).toBeUndefined();
    expect(frag(OTHER)).toBeUndefined();
    expect(frag(SID.toLowerCase())?.action).toEqual({ kind: 'answer', status: 503 });
    expect(frag(SID)).toBeUndefined();
    expect(r.decide(request('Create-Session', { connectionId: 1 }))).toBeUndefined();
    expect(r.decide(request('Create-Session', { connectionId: 2 }))).toBeUndefined();
    expect(r.decide(request('Create-Session', { connectionId: 1 }))?.action.kind).toBe('answer');
  });

  it('times=N spends the rule after N firings', () => {
    const r = registry('ping: status=503 times=2');
    expect(r.decide(request('Ping'))).toBeDefined();
    expect(r.decide(request('Ping'))).toBeDefined();
    expect(r.decide(request('Ping'))).toBeUndefined();
    expect(r.list()[0]).toMatchObject({ fired: 2, spent: true });
  });

  it('p draws from the injected random source only when everything else matched', () => {
    const draws = [0.3, 0.1, 0.24, 0.25];
    let calls = 0;
    const r = new InjectionRegistry({ random: () => draws[calls++]! });
    r.add(parseInjectionRule('ping: drop-ack p=25%'), 'cli');
    expect(r.decide(request('Fragment', { session: SID, range: 'bytes 0-9/20' }))).toBeUndefined();
    expect(calls).toBe(0);
    expect(r.decide(request('Ping'))).toBeUndefined();
    expect(r.decide(request('Ping'))).toBeDefined();
    expect(r.decide(request('Ping'))).toBeDefined();
    expect(r.decide(request('Ping'))).toBeUndefined();
    expect(calls).toBe(4);
  });

  it('scopes by url glob, client address and session id', () => {
    const r = registry('any: status=503 url=/up/*.bin', 'any: status=504 url=/deep/**', 'any: status=505 client=10.0.0.5', `any: status=506 session=${SID.slice(1, -1).toLowerCase()}`);
    const status = (req: InjectionRequest) => {
      const a = r.decide(req)?.action;
      return a?.kind === 'answer' ? a.status : undefined;
    };
    expect(status(request('Ping', { url: '/up/a.bin?x=1' }))).toBe(503);
    expect(status(request('Ping', { url: '/up/sub/a.bin' }))).toBeUndefined();
    expect(status(request('Ping', { url: '/deep/a/b/c' }))).toBe(504);
    expect(status(request('Ping', { client: '::ffff:10.0.0.5' }))).toBe(505);
    expect(status(request('Ping', { client: '10.0.0.6' }))).toBeUndefined();
    expect(status(request('Close-Session', { session: SID }))).toBe(506);
    expect(status(request('Close-Session', { session: OTHER }))).toBeUndefined();
  });

  it('the first matching rule wins', () => {
    const r = registry('ping: status=503', 'ping: status=504');
    expect(r.decide(request('Ping'))?.injectionId).toBe('inj-1');
  });

  it('forget-session answers 500 + 0x8020001F for that session from then on, until the rule is removed', () => {
    const r = registry('fragment#2: forget-session times=1');
    const frag = () => r.decide(request('Fragment', { session: SID, range: 'bytes 0-9/20' }));
    expect(frag()).toBeUndefined();
    const forgotten = { kind: 'answer', status: 500, code: 0x8020001f };
    expect(frag()?.action).toEqual(forgotten);
    expect(r.decide(request('Close-Session', { session: SID.toLowerCase() }))?.action).toEqual(forgotten);
    expect(r.decide(request('Close-Session', { session: OTHER }))).toBeUndefined();
    expect(r.remove('inj-1')).toBe(true);
    expect(r.remove('inj-1')).toBe(false);
    expect(frag()).toBeUndefined();
  });

  it('range=server (and a bare 416) answers with the offset the session last had acknowledged', () => {
    const r = registry('fragment: status=416 range=server session=' + SID, `fragment: status=416 session=${OTHER}`);
    const range = (s: string) => {
      const a = r.decide(request('Fragment', { session: s, range: 'bytes 0-9/20' }))?.action;
      return a?.kind === 'answer' ? a.range : undefined;
    };
    expect(range(SID)).toEqual({ start: 0, end: -1 });
    r.observe(ackObservation(SID, '10'));
    r.observe({ ...ackObservation(SID, '15'), injected: { id: 'inj-1', rule: 'x', action: 'answer' } });
    expect(range(SID)).toEqual({ start: 0, end: 9 });
    expect(range(OTHER)).toEqual({ start: 0, end: -1 });
  });

  it('range=server keys the offset by the id the client sends, whatever spelling the Ack echoed', () => {
    const r = registry('fragment: status=416 range=server');
    const echoed = ackObservation(SID, '10');
    // A server that echoes the GUID bare and lower-cased (the ids then are not the same, §8).
    echoed.responseHeaders = [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', SID.slice(1, -1).toLowerCase()], ['BITS-Received-Content-Range', '10'], ['Content-Length', '0']];
    r.observe(echoed);
    const a = r.decide(request('Fragment', { session: SID, range: 'bytes 10-19/20' }))?.action;
    expect(a?.kind === 'answer' && a.range).toEqual({ start: 0, end: 9 });
  });

  it('session=ID takes a GUID with or without braces, in any case; request ids meet as the protocol compares them', () => {
    const bare = SID.slice(1, -1);
    const status = (r: InjectionRegistry, sid: string) => {
      const a = r.decide(request('Close-Session', { session: sid }))?.action;
      return a?.kind === 'answer' ? a.status : undefined;
    };
    for (const written of [SID, SID.toLowerCase(), bare, bare.toLowerCase()]) {
      const r = registry(`close: status=503 session=${written}`);
      expect([SID, SID.toLowerCase(), bare, bare.toLowerCase()].map((sid) => status(r, sid))).toEqual([503, 503, 503, 503]);
      expect(status(r, OTHER)).toBeUndefined();
    }
    // Not a GUID: exact, and no braces added.
    const token = registry('close: status=503 session=abc');
    expect([status(token, 'abc'), status(token, 'ABC'), status(token, '{abc}')]).toEqual([503, undefined, undefined]);
  });

  it('tells listeners after every add, fire and remove', () => {
    const r = new InjectionRegistry();
    let n = 0;
    const off = r.onChange(() => n++);
    const { id } = r.add(parseInjectionRule('ping: drop-ack'), 'control');
    r.decide(request('Ping'));
    r.decide(request('Fragment', { session: SID, range: 'bytes 0-9/20' }));
    r.remove(id);
    expect(n).toBe(3);
    off();
    r.add(parseInjectionRule('ping: drop-ack'), 'control');
    expect(n).toBe(3);
  });
});

function ackObservation(sid: string, received: string): Observation {
  return {
    id: 1, connectionId: 1, client: { address: '127.0.0.1', port: 1 }, method: 'BITS_POST', url: '/u', httpVersion: '1.1',
    requestHeaders: [['BITS-Packet-Type', 'Fragment'], ['BITS-Session-Id', sid], ['Content-Range', 'bytes 0-9/20'], ['Content-Length', '10']],
    startedAt: 0, requestBodyBytes: 10, status: 200,
    responseHeaders: [['BITS-Packet-Type', 'Ack'], ['BITS-Session-Id', sid], ['BITS-Received-Content-Range', received], ['Content-Length', '0']],
    responseBodyBytes: 0, endedAt: 1,
  };
}
