/**
 * The one record of an HTTP exchange that passed through bitsgate.
 *
 * The gateway produces it (src/gateway), `--record` serialises it as it is (one NDJSON
 * line, bodies never included), and the session tracker (src/sessions) and `analyze`
 * consume it. Nothing else crosses from the I/O edge into the protocol core, so a
 * recorded file replays through the core with the same result as live traffic.
 */
import type { InjectionAction } from './inject/rule.js';
import type { BitsAck, BitsRequest } from './protocol/index.js';

/** Header fields in wire order with their original names; duplicates kept. */
export type HeaderList = ReadonlyArray<readonly [name: string, value: string]>;

/** Sent when a request head has been parsed and forwarding starts. */
export interface ExchangeStart {
  /** Unique per gateway process, increasing in arrival order. */
  id: number;
  /** The client TCP connection that carried the request (unique per process). */
  connectionId: number;
  client: { address: string; port: number };
  method: string;
  /** Request target exactly as sent (origin-form, e.g. `/uploads/f.bin?x=1`). */
  url: string;
  /** `1.1` or `1.0`. */
  httpVersion: string;
  requestHeaders: HeaderList;
  /** Epoch milliseconds when the request head was complete. */
  startedAt: number;
  /** `https` when the client connection was TLS; absent means plain HTTP (older recordings too). */
  scheme?: 'https';
}

/** Sent once per exchange when it has ended, successfully or not. */
export interface Observation extends ExchangeStart {
  /** Request body bytes actually relayed to the upstream (decoded payload, not chunk framing). */
  requestBodyBytes: number;
  /** Upstream (or gateway-generated) response status; absent when no response was sent. */
  status?: number;
  responseHeaders?: HeaderList;
  /** Response body bytes relayed to the client. */
  responseBodyBytes: number;
  /** Epoch ms when the response head was sent to the client, if it was. */
  respondedAt?: number;
  /** Epoch ms when the exchange ended (response complete, or failure). */
  endedAt: number;
  /** Who produced the response: the upstream server, or the gateway itself (400/431/502/504). */
  responder?: 'upstream' | 'gateway';
  /** Identifies the pinned upstream TCP connection that carried the exchange. */
  upstreamConnectionId?: number;
  /** Set when the exchange failed: a short machine-readable reason, e.g. `upstream-timeout`. */
  error?: string;
  /** The fleet member (`--node-id`) that relayed the exchange; absent outside a fleet. */
  node?: string;
  /**
   * The listener refused the request as malformed HTTP (400/431/408 from the gateway): it was
   * never forwarded, so it is reported as a refused request and never judged as a BITS packet.
   */
  refused?: boolean;
  /**
   * Set when the gateway injected a fault into this exchange (`--inject`, the control API, a
   * client conformance case): which injection, its rule text and action. Recorded, so
   * `analyze` and the tracker never blame the client or the server for it.
   */
  injected?: InjectedFault;
  /**
   * Derived, never recorded: the request packet and Ack as the one decoder (src/protocol)
   * read them, filled in by the first reader through `decodeExchange(obs)` so the tracker,
   * metrics and request log decode each exchange once. Absent until then (and in recordings),
   * except when the gateway's fault injector decoded the head to decide: then the gateway
   * fills it (`decodeExchangeWithHead`).
   */
  decoded?: DecodedExchange;
}

/** The mark of an injected fault; `action` is the kind of the rule's action (e.g. `forget-session`). */
export interface InjectedFault {
  id: string;
  rule: string;
  action: InjectionAction['kind'];
}

/** The BITS view of an exchange: `request` null when it is not a BITS packet (e.g. the reply GET). */
export interface DecodedExchange {
  request: BitsRequest | null;
  /** The response's BITS fields; only for a BITS request that got a response. */
  ack: BitsAck | undefined;
}

/**
 * Sent once when a client connection has closed (either side), after the observations of
 * every exchange it carried. The tracker needs it to tell a Close-Session resent after a lost
 * Ack (the connection dropped right after the answer) from a real second Close.
 */
export interface ConnectionClosed {
  connectionId: number;
  /** Epoch ms. */
  at: number;
}

/** Whether the listener refused `obs` before forwarding it. Older recordings lack `refused`: the listener's rejects are the only observations with no HTTP version. */
export function isRefusedRequest(obs: Observation): boolean {
  return obs.refused === true || (obs.responder === 'gateway' && obs.httpVersion === '' && obs.requestHeaders.length === 0);
}

/** Anything that consumes observations: the tracker, the recorder, the request log. */
export interface ObservationSink {
  onExchangeStart?(start: ExchangeStart): void;
  onObservation(obs: Observation): void;
  onConnectionClosed?(closed: ConnectionClosed): void;
}
