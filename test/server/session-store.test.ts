import { describe, expect, it } from 'vitest';
import { SessionStore } from '../../src/server/session-store.js';
import type { DirHandle } from '../../src/server/dir-handle.js';
import { UploadFile } from '../../src/server/upload-file.js';

const nowhere = { entry: (n: string) => `/tmp/never-dir/${n}`, realEntry: (n: string) => `/tmp/never-dir/${n}` } as unknown as DirHandle;

function make(store: SessionStore, now = 0, user = '127.0.0.1') {
  return store.create({
    urlPath: '/f', query: '', originalUrl: '/f', destination: '/tmp/never', segments: ['never'],
    file: UploadFile.inDirectory(nowhere), uploadReply: false, user, now,
  });
}

describe('SessionStore', () => {
  it('issues braced lower-case GUIDs and finds them in any letter case', () => {
    const store = new SessionStore();
    const s = make(store);
    expect(s.id).toMatch(/^\{[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\}$/);
    expect(store.get(s.id.toUpperCase())).toBe(s);
    expect(store.get('{00000000-0000-0000-0000-000000000000}')).toBeUndefined();
  });

  it('expires only sessions idle longer than the timeout and not busy', async () => {
    const store = new SessionStore();
    const idle = make(store, 0);
    const fresh = make(store, 900);
    const busy = make(store, 0);
    let release!: () => void;
    const running = store.exclusive(busy, () => new Promise<void>((r) => (release = r)));
    await Promise.resolve();
    expect(store.expire(1001, 1000)).toEqual([idle]);
    expect(idle.ended).toBe(true);
    expect(store.get(idle.id)).toBeUndefined();
    expect(store.get(fresh.id)).toBe(fresh);
    release();
    await running;
    expect(store.expire(1001, 1000)).toEqual([busy]);
  });

  it('runs the requests of one session one at a time, in order, even after a failure', async () => {
    const store = new SessionStore();
    const s = make(store);
    const order: string[] = [];
    const a = store.exclusive(s, async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('a');
      throw new Error('boom');
    });
    const b = store.exclusive(s, async () => {
      order.push('b');
    });
    await expect(a).rejects.toThrow('boom');
    await b;
    expect(order).toEqual(['a', 'b']);
  });

  it('serves a reply by token until the session is removed', () => {
    const store = new SessionStore();
    const s = make(store);
    const token = SessionStore.newToken();
    store.setReply(s, { token, kind: 'body', body: Buffer.from('r') });
    expect(store.getReply(token)).toEqual({ token, kind: 'body', body: Buffer.from('r') });
    store.remove(s);
    expect(store.getReply(token)).toBeUndefined();
  });

  it('session limit (IIS BITSNumberOfSessionsLimit): removes each user\'s NEWEST sessions over the limit', () => {
    const store = new SessionStore();
    const a1 = make(store, 0, 'a');
    const b1 = make(store, 1, 'b');
    const a2 = make(store, 2, 'a');
    const a3 = make(store, 3, 'a');
    const a4 = make(store, 3, 'a');
    expect(store.overLimit(0)).toEqual([]);
    expect(store.overLimit(2)).toEqual([a3, a4]);
    expect([a1, a2, b1].map((s) => store.get(s.id))).toEqual([a1, a2, b1]);
    expect(store.get(a3.id)).toBeUndefined();
    expect(store.overLimit(2)).toEqual([]);
  });
});
