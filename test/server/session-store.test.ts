import { describe, expect, it } from 'vitest';
import { SessionStore } from '../../src/server/session-store.js';
import { UploadFile } from '../../src/server/upload-file.js';

function make(store: SessionStore, now = 0) {
  return store.create({ urlPath: '/f', destination: '/tmp/never', file: UploadFile.inDirectory('/tmp/never-dir'), uploadReply: false, now });
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
    const token = store.setReply(s, Buffer.from('r'));
    expect(store.getReply(token)?.toString()).toBe('r');
    store.remove(s);
    expect(store.getReply(token)).toBeUndefined();
  });
});
