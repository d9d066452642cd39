/**
 * A scripted IIS-like BITS upstream for the verdict corpus, on raw sockets (startUpstream).
 * It keeps sessions like the BITS server extension does (R per session, no holes, 416 on a
 * gap) and switches behaviour by the first path segment of the URL, so one upstream serves
 * every scenario:
 *   /lower/...       echoes BITS-Session-Id lower-cased (§8)
 *   /shrink/...      413 (code 0) on any fragment over 4 bytes (§6: the client shrinks)
 *   /dup416/...      416 + R for a fragment that starts below R (§4 "pure duplicate: 416")
 *   /close5xx/...    the first Close of each session is answered 503
 *   /commit503/...   the first Close of each session commits and releases it, but is answered 503
 *   /released200/... a Close for a released session is answered 200 (else 500 + 0x8020001F)
 *   /reply/...       upload-reply: the final Ack names /replies/<n>, which GET serves
 *   /reply-static/...upload-reply with a static reply on another host
 *   /hostid/...      Create Ack names BITS-Host-Id node1.example with a 600 s fallback timeout
 *   /busy/...        a Fragment is answered only once a Close of its session has arrived
 */
import { startUpstream, type SeenRequest, type TestUpstream, type UpstreamReply } from '../gateway/helpers.js';

export const GUID = '{7df0354d-249b-430f-820d-3d2a9bef4931}';
export const HOST_ID = 'node1.example';

interface ServerSession {
  id: string;
  received: number;
  total: number | null;
  variant: string;
  closes: number;
  reply?: string;
}

function h(req: SeenRequest, name: string): string | undefined {
  const lower = name.toLowerCase();
  return req.headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

const ack = (status: number, fields: Array<[string, string]> = []): UpstreamReply => ({
  status,
  headers: [['BITS-Packet-Type', 'Ack'], ...fields, ['Content-Length', '0']],
});

export interface ScriptedBits extends TestUpstream {
  /** Creates a session directly on the server (as before a gateway restart); returns its id. */
  createDirect(variant?: string): string;
}

export async function startScriptedBits(): Promise<ScriptedBits> {
  const sessions = new Map<string, ServerSession>();
  const released = new Set<string>();
  let n = 0;
  /** /busy/: fragments waiting for a Close of their session. */
  const waitingForClose = new Map<string, () => void>();
  const fragmentAnswered = new Map<string, Promise<void>>();

  const newSession = (variant: string): ServerSession => {
    n++;
    const id = `{${n.toString(16).padStart(8, '0').toUpperCase()}-ABCD-4EF0-8123-${(1e11 + n).toString().slice(-12)}}`;
    const s: ServerSession = { id, received: 0, total: null, variant, closes: 0 };
    sessions.set(id.toLowerCase(), s);
    return s;
  };
  const find = (id: string | undefined) => (id === undefined ? undefined : sessions.get(id.toLowerCase()));

  const upstream = await startUpstream(async (req) => {
    const variant = req.url.split('/')[1] ?? '';
    if (req.method === 'GET') {
      return req.url.startsWith('/replies/') ? { status: 200, headers: [['Content-Length', '5']], body: 'reply' } : { status: 404, headers: [['Content-Length', '0']] };
    }
    const type = (h(req, 'BITS-Packet-Type') ?? '').toLowerCase();
    const sid = h(req, 'BITS-Session-Id');
    const s = find(sid);
    const echo = (x: ServerSession | undefined): [string, string] => ['BITS-Session-Id', x?.variant === 'lower' ? x.id.toLowerCase() : (x?.id ?? sid ?? '')];
    const lost = (): UpstreamReply => ack(500, [['BITS-Session-Id', sid ?? ''], ['BITS-Error-Code', '0x8020001F'], ['BITS-Error-Context', '0x5']]);
    switch (type) {
      case 'ping':
        return ack(200);
      case 'create-session': {
        const created = newSession(variant);
        // The id is issued as it is; only the echoes of later Acks change case (/lower/).
        const fields: Array<[string, string]> = [['BITS-Protocol', GUID], ['BITS-Session-Id', created.id], ['Accept-Encoding', 'Identity']];
        if (variant === 'hostid') fields.push(['BITS-Host-Id', HOST_ID], ['BITS-Host-Id-Fallback-Timeout', '600']);
        return ack(201, fields);
      }
      case 'fragment': {
        if (!s) return lost();
        const m = /^bytes (\d+)-(\d+)\/(\d+)$/i.exec(h(req, 'Content-Range') ?? '');
        if (!m) return ack(400, [echo(s), ['BITS-Error-Code', '0x80070057']]);
        const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
        if (s.variant === 'shrink' && end - start + 1 > 4) return ack(413, [echo(s), ['BITS-Error-Code', '0x0']]);
        if (s.variant === 'busy') {
          await new Promise<void>((resolve) => waitingForClose.set(s.id, resolve));
        }
        s.total = total;
        if (start > s.received || (start < s.received && s.variant === 'dup416')) {
          return ack(416, [echo(s), ['BITS-Received-Content-Range', String(s.received)]]);
        }
        s.received = Math.max(s.received, end + 1);
        const fields: Array<[string, string]> = [echo(s), ['BITS-Received-Content-Range', String(s.received)]];
        if (s.received === total && s.variant === 'reply') fields.push(['BITS-Reply-URL', `/replies/${s.id}`]);
        if (s.received === total && s.variant === 'reply-static') fields.push(['BITS-Reply-URL', `http://static.elsewhere.example/replies/${n}`]);
        return ack(200, fields);
      }
      case 'close-session': {
        if (!s) {
          if (sid !== undefined && released.has(sid.toLowerCase()) && variant === 'released200') return ack(200, [['BITS-Session-Id', sid]]);
          return lost();
        }
        if (s.variant === 'busy') {
          const wake = waitingForClose.get(s.id);
          waitingForClose.delete(s.id);
          wake?.();
          // Answer the Close after the fragment it overlapped.
          await (fragmentAnswered.get(s.id) ?? new Promise((r) => setTimeout(r, 50)));
        }
        s.closes++;
        if (s.variant === 'close5xx' && s.closes === 1) return ack(503, [echo(s)]);
        sessions.delete(s.id.toLowerCase());
        released.add(s.id.toLowerCase());
        if (s.variant === 'commit503') return ack(503, [echo(s)]);
        return ack(200, [echo(s)]);
      }
      case 'cancel-session': {
        if (!s) return ack(200, [['BITS-Session-Id', sid ?? '']]);
        sessions.delete(s.id.toLowerCase());
        released.add(s.id.toLowerCase());
        return ack(200, [echo(s)]);
      }
      default:
        return ack(400, [['BITS-Error-Code', '0x80070057']]);
    }
  });
  return Object.assign(upstream, {
    createDirect(variant = '') {
      return newSession(variant).id;
    },
  });
}
