import { describe, expect, it } from 'vitest';
import { errorResponse, planResponse, statusLine } from '../../../src/gateway/http1/response-writer.js';

const CTX11 = { requestMethod: 'BITS_POST', clientVersion: '1.1' as const, keepAlive: true };
const CTX10 = { requestMethod: 'BITS_POST', clientVersion: '1.0' as const, keepAlive: false };

describe('planResponse', () => {
  it('keeps a given Content-Length and header order/case', () => {
    const p = planResponse(200, [['BITS-Packet-Type', 'Ack'], ['Content-Length', '0'], ['bits-session-id', '{x}']], CTX11);
    expect(p).toEqual({
      head: 'HTTP/1.1 200 OK\r\nBITS-Packet-Type: Ack\r\nContent-Length: 0\r\nbits-session-id: {x}\r\n\r\n',
      framing: 'length', length: 0, close: false,
    });
  });

  it('chunks a body of unknown length to a 1.1 client', () => {
    const p = planResponse(200, [['Content-Type', 'text/plain']], CTX11);
    expect(p.head).toBe('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n');
    expect(p.framing).toBe('chunked');
  });

  it('delimits a body of unknown length by closing to a 1.0 client', () => {
    const p = planResponse(200, [], CTX10);
    expect(p).toMatchObject({ head: 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n', framing: 'close', close: true });
  });

  it('says keep-alive to a 1.0 client that asked for it when the length is known', () => {
    const p = planResponse(200, [['Content-Length', '2']], { ...CTX10, keepAlive: true });
    expect(p.head).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n');
  });

  it('adds Connection: close when the connection will close', () => {
    const p = planResponse(416, [['Content-Length', '0']], { ...CTX11, keepAlive: false });
    expect(p.head).toBe('HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });

  it('drops caller hop-by-hop framing fields; a caller Connection: close still closes', () => {
    const p = planResponse(200, [['Transfer-Encoding', 'chunked'], ['Connection', 'close'], ['Keep-Alive', 'timeout=5'], ['X-A', '1']], CTX11);
    expect(p.head).toBe('HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
    expect(p.close).toBe(true);
  });

  it('frames no body for HEAD, 204 and 304', () => {
    expect(planResponse(200, [['Content-Length', '10']], { ...CTX11, requestMethod: 'HEAD' })).toMatchObject({ framing: 'none', close: false });
    expect(planResponse(204, [], CTX11)).toMatchObject({ head: 'HTTP/1.1 204 No Content\r\n\r\n', framing: 'none' });
    expect(planResponse(304, [], CTX10)).toMatchObject({ framing: 'none', close: true });
  });

  it('drops Content-Length from a 204 (RFC 9110 §8.6)', () => {
    expect(planResponse(204, [['BITS-Packet-Type', 'Ack'], ['Content-Length', '0']], CTX11).head)
      .toBe('HTTP/1.1 204 No Content\r\nBITS-Packet-Type: Ack\r\n\r\n');
  });

  it('uses a given reason phrase, and refuses one that would split the response', () => {
    expect(planResponse(200, [], CTX11, 'Fine').head.startsWith('HTTP/1.1 200 Fine\r\n')).toBe(true);
    expect(() => planResponse(200, [], CTX11, 'OK\r\nX-Evil: 1')).toThrow(TypeError);
  });

  it('refuses header names and values that would split the response', () => {
    expect(() => planResponse(200, [['X-A', 'a\r\nSet-Cookie: x']], CTX11)).toThrow(TypeError);
    expect(() => planResponse(200, [['X A', 'a']], CTX11)).toThrow(TypeError);
    expect(() => planResponse(200, [['Content-Length', '1'], ['Content-Length', '2']], CTX11)).toThrow(TypeError);
    expect(() => planResponse(200, [['Content-Length', '-1']], CTX11)).toThrow(TypeError);
  });

  it('passes latin1 header bytes through unchanged', () => {
    expect(planResponse(200, [['X-Name', 'caf\xe9'], ['Content-Length', '0']], CTX11).head).toContain('X-Name: caf\xe9\r\n');
  });

  it('drops an identical repeated Content-Length', () => {
    expect(planResponse(200, [['Content-Length', '2'], ['content-length', '2']], CTX11).head).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n');
  });

  it('refuses impossible statuses', () => {
    expect(() => statusLine(99)).toThrow(RangeError);
    expect(() => statusLine(1000)).toThrow(RangeError);
  });
});

describe('errorResponse', () => {
  it('always carries Content-Length and Connection: close and no request data', () => {
    expect(errorResponse(400, 'cl-and-te').toString('latin1')).toBe(
      'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 27\r\nConnection: close\r\n\r\n400 Bad Request: cl-and-te\n');
  });
});
