/**
 * A scripted BITS server with one deliberate deviation: our own server (`bitsgate serve`'s
 * code) behind a small rewriting front on the HTTP/1.1 listener that accepts `BITS_POST`.
 * Each deviation changes exactly the answers it names, so check-server must report exactly
 * one case for it. The front decodes with src/protocol, as everything else does.
 */
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { PacketTransport } from '../../../src/client/packet-transport.js';
import { createHttp1Server } from '../../../src/gateway/http1/index.js';
import type { HeaderList } from '../../../src/observation.js';
import { decodeAck, decodeRequest, ERROR_CODES } from '../../../src/protocol/index.js';
import { ackHeaders } from '../../../src/protocol/encode.js';

export const DEVIATIONS = {
  /** 416 on a gap without BITS-Received-Content-Range. */
  'gap-416-without-range': 'fragment-gap',
  /** 416 on a gap naming the wrong offset (R + 1). */
  'gap-416-wrong-range': 'fragment-gap',
  /** 200 instead of 500 + 0x8020001F for a session id the server never issued. */
  'unknown-session-200': 'unknown-session',
  /** The Ping Ack without BITS-Packet-Type. */
  'ping-ack-without-packet-type': 'ping',
  /** A Fragment whose total changed is acknowledged (200) instead of 400 + 0x80070057. */
  'accepts-changed-total': 'fragment-changed-total',
  /** Close-Session mid-upload is acknowledged but the session (and its data) is kept. */
  'close-mid-upload-keeps-session': 'close-mid-upload',
  /** BITS-Error-Code written as a decimal number. */
  'error-code-in-decimal': 'error-code-format',
  /** BITS-Error-Context 0x7 (server application) on the no-common-protocol 400 (the classifier reads it the same). */
  'error-context-0x7': 'error-code-format',
  /** Create-Session with no common protocol answered 501 instead of 400 + 0x80070057. */
  'no-common-protocol-501': 'create-session-no-common-protocol',
} as const;
export type Deviation = keyof typeof DEVIATIONS;

/**
 * Not deviations: `overlap-416` is the other reading of a Conflict, which must pass;
 * `hang-on-changed-total` never answers that Fragment (for the Ctrl-C test).
 */
export type Variant = 'overlap-416' | 'hang-on-changed-total';

interface Tracked {
  total?: number;
  received: number;
}

export interface DeviatingServer {
  url: string;
  close(): Promise<void>;
}

export async function startDeviatingServer(upstreamUrl: string, deviation: Deviation | Variant): Promise<DeviatingServer> {
  const upstream = new PacketTransport({ idleTimeoutMs: 10_000 });
  const issued = new Map<string, Tracked>();
  const sockets = new Set<Socket>();
  const server = createHttp1Server((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const bits = decodeRequest(req.method, req.headerList);
      const answer = (status: number, headers: HeaderList, payload: Buffer = Buffer.alloc(0)) => {
        res.writeHead(status, headers);
        res.end(payload);
      };
      const ack = (status: number, fields: Parameters<typeof ackHeaders>[0]) => answer(status, [...ackHeaders(fields), ['Content-Length', '0']]);
      const sid = bits?.sessionId;
      const tracked = sid !== undefined ? issued.get(sid) : undefined;

      // Answers the front makes up without asking our server.
      if (deviation === 'accepts-changed-total' && bits?.type === 'fragment' && tracked?.total !== undefined && bits.range && bits.range.total !== tracked.total) {
        return ack(200, { sessionId: sid, receivedOffset: tracked.received });
      }
      if (deviation === 'hang-on-changed-total' && bits?.type === 'fragment' && tracked?.total !== undefined && bits.range && bits.range.total !== tracked.total) {
        return;
      }
      if (deviation === 'close-mid-upload-keeps-session' && bits?.type === 'close-session' && tracked?.total !== undefined && tracked.received < tracked.total) {
        return ack(200, { sessionId: sid });
      }
      if (deviation === 'overlap-416' && bits?.type === 'fragment' && tracked && bits.range && bits.range.start < tracked.received && bits.range.end >= tracked.received) {
        return ack(416, { sessionId: sid, receivedOffset: tracked.received, errorCode: 0 });
      }

      const headers = req.headerList.filter(([n]) => n.toLowerCase() !== 'host');
      const up = await upstream.send({ method: req.method, url: new URL(req.url, upstreamUrl), headers, ...(body.length > 0 && { body }) });
      let status = up.status;
      let out: [string, string][] = up.headers.map(([n, v]) => [n, v]);
      const decoded = decodeAck(up.status, up.headers);
      if (bits?.type === 'create-session' && decoded.sessionId !== undefined && status < 300) issued.set(decoded.sessionId, { received: 0 });
      if (bits?.type === 'fragment' && tracked && status === 200 && bits.range) {
        tracked.total = bits.range.total;
        if (decoded.receivedOffset !== undefined) tracked.received = decoded.receivedOffset;
      }
      const set = (name: string, value: string | undefined) => {
        out = out.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
        if (value !== undefined) out.push([name, value]);
      };
      switch (deviation) {
        case 'gap-416-without-range':
          if (status === 416) set('BITS-Received-Content-Range', undefined);
          break;
        case 'gap-416-wrong-range':
          if (status === 416 && decoded.receivedOffset !== undefined) set('BITS-Received-Content-Range', String(decoded.receivedOffset + 1));
          break;
        case 'unknown-session-200':
          if (sid !== undefined && !issued.has(sid) && decoded.errorCode?.value === ERROR_CODES.BG_E_SESSION_NOT_FOUND) {
            return ack(200, { sessionId: sid });
          }
          break;
        case 'ping-ack-without-packet-type':
          if (bits?.type === 'ping') set('BITS-Packet-Type', undefined);
          break;
        case 'error-code-in-decimal':
          if (decoded.errorCode) set('BITS-Error-Code', String(decoded.errorCode.value));
          break;
        case 'error-context-0x7':
          if (bits?.type === 'create-session' && status === 400) set('BITS-Error-Context', '0x7');
          break;
        case 'no-common-protocol-501':
          if (bits?.type === 'create-session' && status === 400) {
            status = 501;
            set('BITS-Error-Code', '0x80070005');
          }
          break;
      }
      answer(status, out, up.body);
    })().catch(() => res.destroy());
  }, {
    onConnection: (c) => {
      sockets.add(c.socket);
      c.socket.once('close', () => sockets.delete(c.socket));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => {
      upstream.close();
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
