import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RequestHeadParser, type HeadStep } from '../../../src/gateway/http1/request-head.js';

const FRAGMENT_HEAD =
  'BITS_POST /uploads/report.zip HTTP/1.1\r\n' +
  'Host: files.example.com\r\n' +
  'BITS-Packet-Type: Fragment\r\n' +
  'BITS-Session-Id: {0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}\r\n' +
  'Content-Range: bytes 0-4/10\r\n' +
  'Content-Length: 5\r\n\r\n';

function parse(text: string, max = 65_536): HeadStep {
  return new RequestHeadParser(max).push(Buffer.from(text, 'latin1'));
}

function reason(text: string, max?: number): string {
  const step = parse(text, max);
  return step.kind === 'error' ? `${step.status} ${step.reason}` : step.kind;
}

describe('RequestHeadParser', () => {
  it('parses a BITS_POST Fragment head and reports where the body starts', () => {
    const step = parse(FRAGMENT_HEAD + 'hello');
    expect(step.kind).toBe('done');
    if (step.kind !== 'done') return;
    expect(step.consumed).toBe(FRAGMENT_HEAD.length);
    expect(step.head.method).toBe('BITS_POST');
    expect(step.head.url).toBe('/uploads/report.zip');
    expect(step.head.httpVersion).toBe('1.1');
    expect(step.head.fields).toEqual([
      ['Host', 'files.example.com'],
      ['BITS-Packet-Type', 'Fragment'],
      ['BITS-Session-Id', '{0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}'],
      ['Content-Range', 'bytes 0-4/10'],
      ['Content-Length', '5'],
    ]);
    expect(step.head.headBytes).toBe(FRAGMENT_HEAD.length);
  });

  it('gives the same head when fed one byte at a time', () => {
    const p = new RequestHeadParser(65_536);
    const bytes = Buffer.from(FRAGMENT_HEAD, 'latin1');
    let step: HeadStep = { kind: 'need-more' };
    for (let i = 0; i < bytes.length; i++) {
      step = p.push(bytes.subarray(i, i + 1));
      if (i < bytes.length - 1) expect(step.kind).toBe('need-more');
    }
    expect(step.kind).toBe('done');
    if (step.kind === 'done') {
      expect(step.consumed).toBe(1);
      expect(step.head.fields).toHaveLength(5);
      expect(step.head.fields[2]).toEqual(['BITS-Session-Id', '{0f2e52b4-6d1c-4b3a-9d3e-31e8c1b7a5d0}']);
    }
  });

  it('gives the same head when split right between CR and LF', () => {
    const text = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    for (let cut = 1; cut < text.length; cut++) {
      const p = new RequestHeadParser(1000);
      expect(p.push(Buffer.from(text.slice(0, cut))).kind).toBe('need-more');
      const step = p.push(Buffer.from(text.slice(cut)));
      expect(step.kind, `cut at ${cut}`).toBe('done');
      if (step.kind === 'done') expect(step.head.fields).toEqual([['Host', 'a']]);
    }
  });

  it('keeps obs-text (raw UTF-8 bytes) in values and targets byte-exact as latin1', () => {
    const raw = Buffer.concat([
      Buffer.from('BITS_POST /up/'), Buffer.from('résumé.txt', 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: a\r\nContent-Name: '),
      Buffer.from('ü', 'utf8'), Buffer.from('\r\n\r\n'),
    ]);
    const step = new RequestHeadParser(1000).push(raw);
    expect(step.kind).toBe('done');
    if (step.kind !== 'done') return;
    expect(Buffer.from(step.head.url, 'latin1').toString('utf8')).toBe('/up/résumé.txt');
    expect(Buffer.from(step.head.fields[1]![1], 'latin1').toString('utf8')).toBe('ü');
  });

  it('accepts any token method, absolute-form and asterisk-form targets, HTTP/1.0', () => {
    expect(reason('PROPFIND /dav HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('done');
    expect(reason('get / HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('done');
    expect(reason('BITS_POST http://files.example.com/up/f HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('done');
    expect(reason('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('done');
    const step = parse('GET / HTTP/1.0\r\n\r\n');
    expect(step.kind === 'done' && step.head.httpVersion).toBe('1.0');
  });

  it('strips optional whitespace around values and keeps empty values', () => {
    const step = parse('GET / HTTP/1.1\r\nHost:\t a \t\r\nX-Empty:\r\n\r\n');
    expect(step.kind === 'done' && step.head.fields).toEqual([['Host', 'a'], ['X-Empty', '']]);
  });

  it('tolerates up to two empty lines before the request line, not three', () => {
    expect(reason('\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('done');
    expect(reason('\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('done');
    expect(reason('\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n')).toBe('400 too-many-empty-lines');
  });

  it.each([
    ['bare LF line end', 'GET / HTTP/1.1\nHost: a\r\n\r\n', '400 bare-lf'],
    ['bare LF ending the head', 'GET / HTTP/1.1\r\nHost: a\r\n\n', '400 bare-lf'],
    ['bare CR in a value', 'GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n', '400 bare-cr'],
    ['NUL in a value', 'GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n', '400 nul-in-head'],
    ['NUL in the target', 'GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n', '400 nul-in-head'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  c\r\n\r\n', '400 obs-fold'],
    ['tab obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n', '400 obs-fold'],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', '400 space-before-colon'],
    ['tab before colon', 'GET / HTTP/1.1\r\nHost\t: a\r\n\r\n', '400 space-before-colon'],
    ['invalid name char', 'GET / HTTP/1.1\r\nHo(st: a\r\n\r\n', '400 bad-header-name'],
    ['empty name', 'GET / HTTP/1.1\r\n: a\r\n\r\n', '400 bad-header-name'],
    ['no colon', 'GET / HTTP/1.1\r\nHost a\r\n\r\n', '400 bad-header-line'],
    ['control char in value', 'GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n', '400 bad-header-value'],
    ['DEL in value', 'GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n', '400 bad-header-value'],
    ['two spaces in request line', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', '400 bad-request-line'],
    ['missing version', 'GET /\r\nHost: a\r\n\r\n', '400 bad-request-line'],
    ['HTTP/0.9 style', 'GET\r\n\r\n', '400 bad-request-line'],
    ['leading space', ' GET / HTTP/1.1\r\nHost: a\r\n\r\n', '400 bad-request-line'],
    ['trailing space', 'GET / HTTP/1.1 \r\nHost: a\r\n\r\n', '400 bad-request-line'],
    ['lower-case protocol', 'GET / http/1.1\r\nHost: a\r\n\r\n', '400 bad-request-line'],
    ['non-token method', 'BITS{POST / HTTP/1.1\r\nHost: a\r\n\r\n', '400 bad-method'],
    ['relative target', 'GET uploads/f HTTP/1.1\r\nHost: a\r\n\r\n', '400 bad-request-target'],
    ['tab in target', 'GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n', '400 bad-request-target'],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', '505 http-version-not-supported'],
    ['HTTP/1.2', 'GET / HTTP/1.2\r\nHost: a\r\n\r\n', '505 http-version-not-supported'],
  ])('rejects %s', (_name, text, expected) => {
    expect(reason(text)).toBe(expected);
  });

  it('rejects a head over the cap with 431, counting leading empty lines', () => {
    const head = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    expect(reason(head, head.length)).toBe('done');
    expect(reason(head, head.length - 1)).toBe('431 head-too-large');
    expect(reason('\r\n' + head, head.length + 1)).toBe('431 head-too-large');
  });

  it('rejects an endless head at the cap without waiting for its end', () => {
    const p = new RequestHeadParser(100);
    expect(p.push(Buffer.from('GET / HTTP/1.1\r\n')).kind).toBe('need-more');
    const step = p.push(Buffer.alloc(200, 0x61));
    expect(step.kind === 'error' && step.status).toBe(431);
  });

  it('reports method and url of a request whose head was rejected after the request line', () => {
    const step = parse('BITS_POST /up/f HTTP/1.1\r\nBad Name: x\r\n\r\n');
    expect(step).toMatchObject({ kind: 'error', status: 400, method: 'BITS_POST', url: '/up/f' });
  });

  it('can be reset and reused for the next request', () => {
    const p = new RequestHeadParser(1000);
    const two = Buffer.from('GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: b\r\n\r\n');
    const first = p.push(two);
    expect(first.kind).toBe('done');
    if (first.kind !== 'done') return;
    p.reset();
    expect(p.bytesSeen).toBe(0);
    const second = p.push(two, first.consumed);
    expect(second.kind === 'done' && second.head.url).toBe('/b');
  });
});

/**
 * The request line is checked byte by byte; this is the whole-line regular-expression reading
 * it replaced (and the precedence of its codes). Both must agree on any line.
 */
function referenceRequestLine(line: string): string {
  const m = /^([^ ]+) ([^ ]+) ([^ ]+)$/.exec(line);
  if (!m) return '400 bad-request-line';
  const [, method, target, version] = m as unknown as [string, string, string, string];
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) return '400 bad-method';
  const v = /^HTTP\/(\d)\.(\d)$/.exec(version);
  if (!v) return '400 bad-request-line';
  if (!/^[\x21-\x7e\x80-\xff]+$/.test(target)) return `400 bad-request-target ${method}`;
  if (v[1] !== '1' || (v[2] !== '0' && v[2] !== '1')) return `505 http-version-not-supported ${method} ${target}`;
  if (!(target.charCodeAt(0) === 0x2f || target === '*' || /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target))) {
    return `400 bad-request-target ${method} ${target}`;
  }
  return `ok ${method} ${target} 1.${v[2]}`;
}

function requestLineOutcome(line: string): string {
  const step = new RequestHeadParser(65_536).push(Buffer.from(`${line}\r\nHost: a\r\n\r\n`, 'latin1'));
  if (step.kind === 'done') return `ok ${step.head.method} ${step.head.url} ${step.head.httpVersion}`;
  if (step.kind !== 'error') return step.kind;
  return [`${step.status} ${step.reason}`, step.method, step.url].filter((x) => x !== undefined).join(' ');
}

describe('request line: byte scan = the regular-expression reading', () => {
  const pieces = ['GET', 'BITS_POST', ' ', ' ', '  ', '/', '/up/f.bin', '*', '**', 'http://h/x', 'h:/x', '1a://x', 'HTTP/1.1', 'HTTP/1.0',
    'HTTP/2.0', 'HTTP/1.2', 'HTTP/1.', 'HTTP/11.1', 'http/1.1', 'HTTP/a.1', '\t', '{', '\x7f', '\x01', '\xe9', 'é', ':', 'x'];
  it('agrees on arbitrary lines made of request-line pieces', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 7 }), (parts) => {
      const line = parts.join('');
      expect(requestLineOutcome(line)).toBe(referenceRequestLine(line));
    }), { numRuns: 3000 });
  });

  it.each([
    'GET / HTTP/1.1', 'BITS_POST /up/f.bin HTTP/1.0', 'OPTIONS * HTTP/1.1', 'GET http://h/x HTTP/1.1', 'GET ** HTTP/1.1',
    'GET /\xe9 HTTP/1.1', 'G{T / HTTP/1.1', 'GET / HTTP/1.10', 'GET / HTTP/x.1', 'GET /a\x7f HTTP/2.0',
  ])('agrees on %j', (line) => {
    expect(requestLineOutcome(line)).toBe(referenceRequestLine(line));
  });
});
