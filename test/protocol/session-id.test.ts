import { describe, expect, it } from 'vitest';
import { sameSessionId, sessionIdKey } from '../../src/protocol/index.js';

const G = '5E53C221-F2D6-4BF2-B994-1DC43CEACA8D';
const IDS = [`{${G}}`, `{${G.toLowerCase()}}`, G, G.toLowerCase(), `{${G}`, 'abc', 'ABC', '{abc}', '-12345', '/a/b', ''];

describe('sessionIdKey', () => {
  it('gives two ids the same key exactly when sameSessionId calls them the same', () => {
    for (const a of IDS) for (const b of IDS) expect(sessionIdKey(a) === sessionIdKey(b), `${a} / ${b}`).toBe(sameSessionId(a, b));
  });

  it('lower-cases a GUID and keeps its braces; keeps any other token as is', () => {
    expect(sessionIdKey(`{${G}}`)).toBe(`{${G.toLowerCase()}}`);
    expect(sessionIdKey('ABC')).toBe('ABC');
  });
});
