import { describe, expect, it } from 'vitest';
import { classifyAnswer } from '../../src/protocol/index.js';

const NOT_FOUND = 0x8020001f;

describe('classifyAnswer (bits-protocol.md §6)', () => {
  it.each([
    ['fragment', 200, undefined, undefined, 'ok'],
    ['create-session', 201, undefined, undefined, 'ok'],
    ['fragment', undefined, undefined, undefined, 'no-answer'],
    ['fragment', 401, undefined, undefined, 'auth'],
    ['ping', 407, undefined, undefined, 'auth'],
    ['fragment', 416, 0, undefined, 'resync'],
    ['fragment', 416, 0x80070057, undefined, 'resync'],
    ['fragment', 413, undefined, undefined, 'shrink'],
    ['fragment', 500, NOT_FOUND, 5, 'session-lost'],
    ['create-session', 500, NOT_FOUND, 5, 'session-lost'],
    ['close-session', 500, NOT_FOUND, 5, 'session-lost'],
    ['cancel-session', 500, NOT_FOUND, 5, 'fatal'],
    ['close-session', 500, 0x80004005, 5, 'retry'],
    ['close-session', 503, undefined, undefined, 'retry'],
    ['close-session', 501, undefined, undefined, 'retry'],
    ['close-session', 404, undefined, undefined, 'fatal'],
    ['close-session', 408, undefined, undefined, 'fatal'],
    ['cancel-session', 502, undefined, undefined, 'retry'],
    ['cancel-session', 400, undefined, undefined, 'fatal'],
    ['create-session', 403, 0x80070005, 5, 'fatal'],
    ['create-session', 501, 0x80070005, 5, 'fatal'],
    ['fragment', 500, 0x80200020, 5, 'fatal'],
    ['fragment', 400, 0x80070057, 5, 'fatal'],
    ['fragment', 503, undefined, undefined, 'retry'],
    ['fragment', 505, undefined, undefined, 'fatal'],
    ['fragment', 409, 0x80004005, 7, 'retry'],
    ['fragment', 408, undefined, 7, 'retry'],
    ['fragment', 404, 0x80004005, 7, 'fatal'],
    ['fragment', 303, undefined, 7, 'fatal'],
    ['fragment', 306, undefined, 7, 'retry'],
    ['fragment', 308, undefined, 7, 'retry'],
    ['fragment', 500, 0x80004005, 7, 'retry'],
    ['fragment', 501, 0x80004005, 7, 'fatal'],
    // Context 0x7: the application's status, judged by the application table alone.
    ['fragment', 413, 0x80004005, 7, 'fatal'],
    ['fragment', 416, 0, 7, 'fatal'],
    ['fragment', 401, undefined, 7, 'fatal'],
    ['fragment', 500, 0x80070057, 7, 'retry'],
    ['fragment', 503, 0x80200020, 7, 'retry'],
    ['fragment', 500, NOT_FOUND, 7, 'session-lost'],
    ['close-session', 404, 0x80004005, 7, 'fatal'],
    ['close-session', 503, 0x80004005, 7, 'retry'],
  ] as const)('%s answered %s (code %s, context %s) is %s', (packet, status, code, context, want) => {
    expect(classifyAnswer(packet, status, code, context).class).toBe(want);
  });
});
