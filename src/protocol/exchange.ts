import type { DecodedExchange, Observation } from '../observation.js';
import { decodeAck } from './ack.js';
import { decodeRequest } from './request.js';

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
  let decoded = obs.decoded;
  if (decoded === undefined) {
    const request = decodeRequest(obs.method, obs.requestHeaders, obs.requestBodyBytes);
    const ack = request !== null && obs.status !== undefined ? decodeAck(obs.status, obs.responseHeaders ?? []) : undefined;
    decoded = { request, ack };
    obs.decoded = decoded;
  }
  return decoded;
}
