import type { HeaderList, Observation } from '../observation.js';
import { headerValue, headerValues } from '../protocol/index.js';
import type { Finding } from './rules/types.js';

/**
 * Connection-bound authentication that never completes (the Extended Protection symptom).
 *
 * NTLM and Negotiate authenticate one TCP (or TLS) connection: the client sends a token,
 * the server answers 401 with a challenge token (`WWW-Authenticate: NTLM TlRM...`), the
 * client answers the challenge on the same connection and is in. IIS with Extended
 * Protection (`tokenChecking="Require"`) also checks that the token is bound to the TLS
 * channel the client sees; behind a TLS-terminating gateway that channel ends at our
 * certificate, so IIS refuses the final token with a bare `401 WWW-Authenticate: NTLM` and
 * the client starts over: a loop on one connection, forever.
 *
 * Flagged once per upstream connection: credentials (a token in Authorization) answered
 * with a bare 401 after that connection already got a challenge token (NTLM), or a second
 * time (Kerberos has no challenge leg). Wrong passwords look the same on the wire; the
 * message says both.
 */

const SCHEME = /^(NTLM|Negotiate)\s+(\S+)/i;
const BARE_SCHEME = /^(NTLM|Negotiate)\s*$/i;

interface ConnectionAuth {
  challenged: boolean;
  refused: number;
  reported: boolean;
  firstExchange: number;
}

/** Connections remembered; the oldest are forgotten beyond (a bounded Map in insertion order). */
const MAX_CONNECTIONS = 10_000;

export class AuthLoopDetector {
  private readonly connections = new Map<number, ConnectionAuth>();

  /** A finding the first time an upstream connection shows the loop; null otherwise. */
  observe(obs: Observation): Finding | null {
    if (obs.status !== 401 || obs.responder === 'gateway') {
      return null;
    }
    const key = obs.upstreamConnectionId ?? -obs.connectionId;
    let state = this.connections.get(key);
    const response = obs.responseHeaders ?? [];
    const sentToken = SCHEME.exec(headerValue(obs.requestHeaders, 'Authorization') ?? '');
    if (hasChallengeToken(response)) {
      if (!state) state = this.remember(key, obs.id);
      state.challenged = true;
      return null;
    }
    if (!sentToken || !isBareChallenge(response)) return null;
    if (!state) state = this.remember(key, obs.id);
    state.refused++;
    if (state.reported || (!state.challenged && state.refused < 2)) return null;
    state.reported = true;
    const scheme = sentToken[1]!;
    return {
      message: `${scheme} credentials answered with a new 401 on the same connection after ` +
        `${state.challenged ? 'its challenge' : 'an earlier refusal'}: the handshake starts over. ` +
        'If the same account authenticates directly against the server, IIS Extended Protection ' +
        '(tokenChecking="Require") is refusing tokens bound to the gateway\'s TLS channel; otherwise the credentials are wrong',
      exchanges: state.firstExchange === obs.id ? [] : [state.firstExchange],
    };
  }

  private remember(key: number, exchange: number): ConnectionAuth {
    if (this.connections.size >= MAX_CONNECTIONS) {
      const oldest = this.connections.keys().next().value;
      if (oldest !== undefined) this.connections.delete(oldest);
    }
    const state: ConnectionAuth = { challenged: false, refused: 0, reported: false, firstExchange: exchange };
    this.connections.set(key, state);
    return state;
  }
}

function hasChallengeToken(headers: HeaderList): boolean {
  return headerValues(headers, 'WWW-Authenticate').some((v) => SCHEME.test(v));
}

function isBareChallenge(headers: HeaderList): boolean {
  const values = headerValues(headers, 'WWW-Authenticate');
  return values.length > 0 && values.some((v) => BARE_SCHEME.test(v));
}
