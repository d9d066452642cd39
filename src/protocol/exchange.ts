import type { DecodedExchange, Observation } from '../observation.js';
import { decodeAck } from './ack.js';
import { type BitsRequest, decodeRequest, withBodyCount } from './request.js';

/**
 * The BITS request packet and Ack of one exchange, decoded once. The first reader (the
 * tracker, normally) decodes and keeps the result on `obs.decoded`; every later reader (the
 * metrics, the request log) gets the same objects. The decoded fields are derived data:
 * never recorded (recorder.ts strips them), and decoded here when absent (a recording read
 * by `analyze`, a hand-made observation in a test).
 *
 * `ack` is decoded only for a BITS request that got a response: an ordinary request (the
 * reply GET) has no Ack to judge.
 */
export function decodeExchange(obs: Observation): DecodedExchange {
  return obs.decoded ?? keep(obs, decodeRequest(obs.method, obs.requestHeaders, obs.requestBodyBytes));
}

/**
 * The same, from a request head decoded before its body was read (the gateway's fault
 * injector decodes it to decide): completed with the relayed body count instead of decoding
 * the head a second time, it becomes `obs.decoded`.
 */
export function decodeExchangeWithHead(obs: Observation, head: BitsRequest | null): DecodedExchange {
  return obs.decoded ?? keep(obs, head === null ? null : withBodyCount(head, obs.requestBodyBytes));
}

function keep(obs: Observation, request: BitsRequest | null): DecodedExchange {
  const ack = request !== null && obs.status !== undefined ? decodeAck(obs.status, obs.responseHeaders ?? []) : undefined;
  const decoded: DecodedExchange = { request, ack };
  obs.decoded = decoded;
  return decoded;
}
