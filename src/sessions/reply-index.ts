/**
 * Which session an ordinary GET/HEAD fetches the reply of (upload-reply jobs, §4): the reply
 * URL each session's final Fragment Ack named (BITS-Reply-URL), indexed by path and query.
 * A reply URL with a host matches only requests for that host; a bare path matches any host
 * that reaches this gateway. One session per URL: a newer session naming the same URL takes it.
 */
import { headerValue } from '../protocol/index.js';
import type { Observation } from '../observation.js';
import type { Session } from './session.js';
import { hostOfUrl, normaliseHost, pathAndQuery } from './url.js';

export class ReplyIndex {
  /** Reply URL (path + query) -> session id. */
  private readonly byPath = new Map<string, string>();

  /** Records (or moves) `session`'s reply URL. */
  set(session: Session, url: string): void {
    if (session.replyUrl === url) return;
    this.drop(session);
    session.replyUrl = url;
    this.byPath.set(pathAndQuery(url), session.id);
  }

  /** Forgets `session`'s reply URL (session ended with its reply fetched or gone, or evicted). */
  drop(session: Session): void {
    if (session.replyUrl === undefined) return;
    const key = pathAndQuery(session.replyUrl);
    if (this.byPath.get(key) === session.id) this.byPath.delete(key);
  }

  /** The session whose reply `obs` fetches, if any; `lookup` finds a held session by id. */
  match(obs: Observation, lookup: (id: string) => Session | undefined): Session | undefined {
    if (this.byPath.size === 0 || (obs.method !== 'GET' && obs.method !== 'HEAD')) return undefined;
    const id = this.byPath.get(pathAndQuery(obs.url));
    const candidate = id !== undefined ? lookup(id) : undefined;
    if (candidate?.replyUrl === undefined || !hostMatches(candidate.replyUrl, obs)) return undefined;
    return candidate;
  }
}

function hostMatches(replyUrl: string, obs: Observation): boolean {
  const wanted = hostOfUrl(replyUrl);
  if (wanted === undefined) return true; // a path: any host that reaches this gateway
  const host = headerValue(obs.requestHeaders, 'host');
  return host !== undefined && normaliseHost(host) === wanted;
}
