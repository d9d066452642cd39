/**
 * Deliberate protocol errors the client can commit (`--misbehave`), one per invalid-close
 * rule or fragment rule the gateway must detect. Each mode does exactly one thing wrong
 * and otherwise behaves, so a detector test can assert one violation code.
 */
export const MISBEHAVE_MODES = ['close-early', 'skip-reply', 'gap', 'unknown-session', 'double-close'] as const;

export type MisbehaveMode = (typeof MISBEHAVE_MODES)[number];

/** What each mode does, and the violation code a gateway should report for it. */
export const MISBEHAVE_DESCRIPTIONS: Readonly<Record<MisbehaveMode, { does: string; expect: string }>> = {
  'close-early': { does: 'sends Close-Session after the first fragment (about half the file)', expect: 'close-incomplete' },
  'skip-reply': { does: 'closes without fetching BITS-Reply-URL (needs a server in reply mode)', expect: 'close-before-reply' },
  gap: { does: 'starts one fragment past the server offset, then resyncs on the 416', expect: 'fragment-gap' },
  'unknown-session': { does: 'sends Close-Session for a session id never issued (no upload)', expect: 'close-unknown-session' },
  'double-close': { does: 'uploads, closes, then closes the same session again', expect: 'close-after-end' },
};

export function isMisbehaveMode(value: string): value is MisbehaveMode {
  return (MISBEHAVE_MODES as readonly string[]).includes(value);
}
