/**
 * One scripted session per case of src/conformance/server/cases.ts, in the same order.
 * Files are small (10-byte fragments): the suite checks the protocol, not throughput.
 * Every upload goes to `<prefix>/<case>.bin`; every session a script opens it ends itself,
 * and the CheckPeer cancels whatever a deviation left open.
 */
import { CaseRecorder, errorFormatDeviations, type ServerCaseName } from '../../conformance/server/index.js';
import { decodeAck, UPLOAD_PROTOCOL_GUID } from '../../protocol/index.js';
import { closeSessionHeaders, createSessionHeaders, fragmentHeaders, pingHeaders } from '../../protocol/encode.js';
import {
  cancelOneOf,
  cancelSession,
  closeSession,
  E_INVALIDARG,
  expectGone,
  fileBytes,
  fileUrl,
  fragment,
  fragmentOneOf,
  openSession,
  SESSION_NOT_FOUND,
  tidy,
  unknownProtocol,
  unknownSessionId,
  uploadAll,
  type RunContext,
} from './steps.js';

export type CaseScript = (r: CaseRecorder, ctx: RunContext) => Promise<void>;

const OK = { status: [200] } as const;
/** Close/Cancel of a session that is already gone: [M] unknown session, or an idempotent 200 (Unverified). */
const ALREADY_GONE = [
  { source: 'the unknown-session answer (§3, §5)', expect: { status: [500], code: SESSION_NOT_FOUND } },
  { source: 'an idempotent Cancel', expect: { status: [200] } },
];

export const SCRIPTS: Readonly<Record<ServerCaseName, CaseScript>> = {
  async ping(r, ctx) {
    const sent = await ctx.peer.send('ping', 'ping: Ping', fileUrl(ctx.prefix, r.name), pingHeaders());
    r.expect('ping', 'Ping', sent.seen, OK);
  },

  async 'create-session'(r, ctx) {
    await tidy(ctx, await openSession(r, ctx, fileUrl(ctx.prefix, r.name)));
  },

  async 'create-session-guid-case'(r, ctx) {
    await tidy(ctx, await openSession(r, ctx, fileUrl(ctx.prefix, r.name), [UPLOAD_PROTOCOL_GUID.toUpperCase()]));
  },

  async 'create-session-no-common-protocol'(r, ctx) {
    const sent = await ctx.peer.send('create-session', `${r.name}: Create-Session`, fileUrl(ctx.prefix, r.name), createSessionHeaders([unknownProtocol()]));
    r.expect('create-session', 'Create-Session offering only an unknown protocol', sent.seen, { status: [400], code: E_INVALIDARG });
  },

  async 'fragments-contiguous'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    // §3: BITS-Reply-URL SHOULD NOT be on a Fragment Ack but the final one (checked by upload-reply).
    for (const [start, end] of [[0, 9], [10, 19]] as const) {
      const j = await fragment(r, ctx, s, { start, end, total: 30, ...(start === 0 && { name: 'check.bin' }) }, { status: [200], received: end + 1, replyUrl: 'absent' });
      if (j.deviations.length > 0) return tidy(ctx, s);
    }
    const last = await fragment(r, ctx, s, { start: 20, end: 29, total: 30 }, { status: [200], received: 30 });
    if (last.deviations.length > 0) return tidy(ctx, s);
    ctx.urlIsUploadReply = last.ack?.replyUrl !== undefined;
    await closeSession(r, ctx, s, OK);
  },

  async 'fragment-gap'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    if ((await fragment(r, ctx, s, { start: 0, end: 9, total: 30, name: 'check.bin' }, { status: [200], received: 10 })).deviations.length === 0) {
      await fragment(r, ctx, s, { start: 20, end: 29, total: 30 }, { status: [416], received: 10 });
    }
    await tidy(ctx, s);
  },

  async 'fragment-overlap'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    if ((await fragment(r, ctx, s, { start: 0, end: 9, total: 30, name: 'check.bin' }, { status: [200], received: 10 })).deviations.length === 0) {
      await fragmentOneOf(r, ctx, s, { start: 5, end: 19, total: 30 }, [
        { source: '[W] Fragment (only the new bytes are written)', expect: { status: [200], received: 20 } },
        { source: '[M] 3.2.5.2.6 read literally (416 for any start but R)', expect: { status: [416], received: 10 } },
      ], 'Conflict (§4, overlap)');
    }
    await tidy(ctx, s);
  },

  async 'fragment-duplicate'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    if ((await fragment(r, ctx, s, { start: 0, end: 9, total: 30, name: 'check.bin' }, { status: [200], received: 10 })).deviations.length === 0 &&
      (await fragment(r, ctx, s, { start: 10, end: 19, total: 30 }, { status: [200], received: 20 })).deviations.length === 0) {
      await fragmentOneOf(r, ctx, s, { start: 0, end: 9, total: 30 }, [
        { source: 'servers that acknowledge a duplicate', expect: { status: [200], received: 20 } },
        { source: 'servers that refuse a duplicate', expect: { status: [416], received: 20 } },
      ], 'Unverified (§4, pure duplicate)');
    }
    await tidy(ctx, s);
  },

  async 'fragment-changed-total'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    if ((await fragment(r, ctx, s, { start: 0, end: 9, total: 30, name: 'check.bin' }, { status: [200], received: 10 })).deviations.length === 0) {
      await fragment(r, ctx, s, { start: 10, end: 19, total: 40 }, { status: [400], code: E_INVALIDARG });
    }
    await tidy(ctx, s);
  },

  async 'unknown-session'(r, ctx) {
    const id = unknownSessionId();
    const url = fileUrl(ctx.prefix, r.name);
    const body = fileBytes(10);
    const f = await ctx.peer.send('fragment', `${r.name}: Fragment`, url, fragmentHeaders({ sessionId: id, start: 0, end: 9, total: 10 }), body, id);
    r.expect('fragment', `Fragment with the never-issued id ${id}`, f.seen, { status: [500], code: SESSION_NOT_FOUND, sessionId: id });
    const c = await ctx.peer.send('close-session', `${r.name}: Close-Session`, url, closeSessionHeaders(id), undefined, id);
    r.expect('close-session', `Close-Session with the never-issued id ${id}`, c.seen, { status: [500], code: SESSION_NOT_FOUND, sessionId: id });
  },

  async 'close-open-no-data'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    if ((await closeSession(r, ctx, s, OK)).deviations.length > 0) return tidy(ctx, s);
    await expectGone(r, ctx, s, { start: 0, end: 0, total: 1 }, 'Close-Session');
    // §4: a zero-byte upload is Unverified; a server may keep a 0-byte file here.
  },

  async 'close-mid-upload'(r, ctx) {
    const url = fileUrl(ctx.prefix, r.name);
    const s = await openSession(r, ctx, url);
    if (!s) return;
    if ((await fragment(r, ctx, s, { start: 0, end: 9, total: 30, name: 'check.bin' }, { status: [200], received: 10 })).deviations.length > 0) return tidy(ctx, s);
    if ((await closeSession(r, ctx, s, OK)).deviations.length > 0) return tidy(ctx, s);
    await expectGone(r, ctx, s, { start: 10, end: 19, total: 30 }, 'Close-Session');
    // §5: R < T at Close deletes the upload. Without overwrites a kept partial file would
    // make a new Create-Session at the same URL fail with 403 (§3).
    const again = await ctx.peer.send('create-session', `${r.name}: Create-Session again`, url, createSessionHeaders([UPLOAD_PROTOCOL_GUID]));
    const status = again.seen.status;
    if (status === 403) r.deviation(`Create-Session at the same URL after the Close answered 403: a file is there, so the partial upload was kept (§5: deleted when R < T)`);
    if (status !== undefined && status < 300) {
      const j = r.expect('create-session', 'Create-Session at the same URL after the Close', again.seen, { status: [200, 201] });
      if (j.ack?.sessionId !== undefined) await tidy(ctx, { id: j.ack.sessionId, url });
    }
  },

  async 'close-uploaded'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    if (!(await uploadAll(r, ctx, s, 30, 10))) return tidy(ctx, s);
    if ((await closeSession(r, ctx, s, OK)).deviations.length > 0) return tidy(ctx, s);
    await expectGone(r, ctx, s, { start: 29, end: 29, total: 30 }, 'Close-Session');
  },

  async 'close-after-close'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    if (!(await uploadAll(r, ctx, s, 10, 10))) return tidy(ctx, s);
    if ((await closeSession(r, ctx, s, OK)).deviations.length > 0) return tidy(ctx, s);
    await closeSession(r, ctx, s, { status: [500], code: SESSION_NOT_FOUND }, 'second Close-Session');
  },

  async 'close-after-cancel'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    if ((await cancelSession(r, ctx, s, OK)).deviations.length > 0) return tidy(ctx, s);
    await closeSession(r, ctx, s, { status: [500], code: SESSION_NOT_FOUND }, 'Close-Session after Cancel-Session');
  },

  async 'cancel-open-no-data'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    if ((await cancelSession(r, ctx, s, OK)).deviations.length > 0) return tidy(ctx, s);
    await expectGone(r, ctx, s, { start: 0, end: 0, total: 1 }, 'Cancel-Session');
  },

  async 'cancel-mid-upload'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    if ((await fragment(r, ctx, s, { start: 0, end: 9, total: 30, name: 'check.bin' }, { status: [200], received: 10 })).deviations.length > 0) return tidy(ctx, s);
    if ((await cancelSession(r, ctx, s, OK)).deviations.length > 0) return tidy(ctx, s);
    await expectGone(r, ctx, s, { start: 10, end: 19, total: 30 }, 'Cancel-Session');
  },

  async 'cancel-uploaded'(r, ctx) {
    const url = fileUrl(ctx.prefix, r.name);
    const s = await openSession(r, ctx, url);
    if (!s) return;
    if (!(await uploadAll(r, ctx, s, 10, 10))) return tidy(ctx, s);
    if ((await cancelSession(r, ctx, s, OK)).deviations.length > 0) return tidy(ctx, s);
    await expectGone(r, ctx, s, { start: 9, end: 9, total: 10 }, 'Cancel-Session');
    // §5 Conflict: [W] the file was written at the last Fragment and stays; [M] 1.3.2 it moves
    // on Close, so Cancel deletes it. Without overwrites, a Create-Session at the same URL tells.
    const again = await ctx.peer.send('create-session', `${r.name}: Create-Session again`, url, createSessionHeaders([UPLOAD_PROTOCOL_GUID]));
    const status = again.seen.status;
    if (status === 403) r.note('Conflict (§5, commit point): the file stayed after Cancel (a new Create-Session at its URL answered 403), the [W] reading; either reading passes');
    else if (status !== undefined && status < 300) {
      r.note('Conflict (§5, commit point): no file blocks a new Create-Session at the URL after Cancel: the [M] 1.3.2 reading (or the server allows overwrites); either reading passes');
      const id = decodeAck(status, again.seen.headers).sessionId;
      if (id !== undefined) await tidy(ctx, { id, url });
    }
  },

  async 'cancel-after-cancel'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    if ((await cancelSession(r, ctx, s, OK)).deviations.length > 0) return tidy(ctx, s);
    await cancelOneOf(r, ctx, s, ALREADY_GONE, 'Unverified (§3, Cancel of a session already gone)', 'second Cancel-Session');
  },

  async 'cancel-after-close'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    if ((await closeSession(r, ctx, s, OK)).deviations.length > 0) return tidy(ctx, s);
    await cancelOneOf(r, ctx, s, ALREADY_GONE, 'Unverified (§3, Cancel of a session already gone)', 'Cancel-Session after Close-Session');
  },

  async 'upload-reply'(r, ctx) {
    const base = ctx.replyPrefix ?? (ctx.urlIsUploadReply ? ctx.prefix : undefined);
    if (!base) {
      return r.notApplicable('the final Fragment Ack under URL carried no BITS-Reply-URL: URL is a plain-upload virtual directory. Give --reply-url URL of an upload-reply one to check it');
    }
    const url = fileUrl(base, r.name);
    const s = await openSession(r, ctx, url);
    if (!s) return;
    const last = await uploadAll(r, ctx, s, 20, 10, { replyUrl: 'required' });
    const replyUrl = last?.ack?.replyUrl;
    if (replyUrl === undefined) return tidy(ctx, s);
    let target: URL | undefined;
    try {
      target = new URL(replyUrl, s.url);
    } catch {
      r.deviation(`BITS-Reply-URL ${JSON.stringify(replyUrl.slice(0, 100))} is not a URL`);
    }
    if (target && target.protocol !== 'http:' && target.protocol !== 'https:') {
      r.deviation(`BITS-Reply-URL ${JSON.stringify(replyUrl.slice(0, 100))} is not http(s): the client cannot download it`);
    } else if (target) {
      const got = await ctx.peer.get(target);
      if ('error' in got) r.deviation(`GET ${target.href.slice(0, 200)}: no answer (${got.error})`);
      else if (got.status < 200 || got.status >= 300) r.deviation(`GET ${target.href.slice(0, 200)}: expected 2xx, seen ${got.status}`);
      else r.note(`reply fetched: ${got.body.length} bytes`);
    }
    // §5: the client closes only once it fetched the reply.
    await closeSession(r, ctx, s, OK);
  },

  async 'host-id'(r, ctx) {
    const s = await openSession(r, ctx, fileUrl(ctx.prefix, r.name));
    if (!s) return;
    const ack = s.create.ack!;
    if (ack.hostId === undefined) {
      if (ack.hostIdFallbackTimeoutSec !== undefined) r.deviation('BITS-Host-Id-Fallback-Timeout without BITS-Host-Id (§3: only with it)');
      r.notApplicable('the server issues no BITS-Host-Id (IIS: BITSHostId unset)');
      return tidy(ctx, s);
    }
    for (const p of ack.problems) if (p.header === 'BITS-Host-Id-Fallback-Timeout') r.deviation(`BITS-Host-Id-Fallback-Timeout: ${p.reason}`);
    if (ack.hostId.length > 300) r.deviation(`BITS-Host-Id of ${ack.hostId.length} characters (§7: at most 300)`);
    if (!s.hostIdUsable) {
      r.deviation(`BITS-Host-Id ${JSON.stringify(ack.hostId.slice(0, 100))} is not a host name a client can connect to`);
      return tidy(ctx, s);
    }
    r.note(`BITS-Host-Id ${ack.hostId.slice(0, 100)}${ack.hostIdFallbackTimeoutSec === undefined ? ', no fallback timeout (the client never falls back)' : `, fallback after ${ack.hostIdFallbackTimeoutSec} s`}`);
    // M 3.1.5.1.2: the client Pings the named host, then sends the session's packets there.
    const ping = await ctx.peer.send('ping', `${r.name}: Ping to the BITS-Host-Id host`, s.url, pingHeaders());
    r.expect('ping', `Ping to ${s.url.host}`, ping.seen, OK);
    if ((await fragment(r, ctx, s, { start: 0, end: 9, total: 10, name: 'check.bin' }, { status: [200], received: 10 })).deviations.length > 0) return tidy(ctx, s);
    await closeSession(r, ctx, s, OK);
  },

  async 'error-code-format'(r, ctx) {
    const deviations = errorFormatDeviations(ctx.peer.acks);
    if (deviations === undefined) return r.notApplicable('no error Ack was seen in this run');
    for (const d of deviations) r.deviation(d);
    if (deviations.length === 0) r.note(`${ctx.peer.acks.filter((a) => a.status >= 300 || a.status < 200).length} error Acks, all with a hex BITS-Error-Code and BITS-Error-Context 0x5`);
  },
};
