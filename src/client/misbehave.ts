/**
 * Deliberate protocol errors the client can commit (`--misbehave`). Each mode does exactly
 * one thing wrong and otherwise behaves. The first five each break one invalid-close or
 * fragment rule the gateway must detect (a detector test asserts one violation code); the
 * others each break one recovery a Windows client performs after a fault (§5, §6), so
 * `bitsgate check-client` fails exactly the cases that fault is injected in.
 */
export const MISBEHAVE_MODES = [
  'close-early', 'skip-reply', 'gap', 'unknown-session', 'double-close',
  'no-resend', 'ignore-range', 'no-shrink', 'no-restart', 'no-close-resend', 'resend-close-4xx',
] as const;

export type MisbehaveMode = (typeof MISBEHAVE_MODES)[number];

/**
 * What each mode does, and what should catch it: the violation code a gateway reports, or
 * the `bitsgate check-client` cases it fails.
 */
export const MISBEHAVE_DESCRIPTIONS: Readonly<Record<MisbehaveMode, { does: string; expect: string }>> = {
  'close-early': { does: 'sends Close-Session after the first fragment (about half the file)', expect: 'close-incomplete' },
  'skip-reply': { does: 'closes without fetching BITS-Reply-URL (needs a server in reply mode)', expect: 'close-before-reply' },
  gap: { does: 'starts one fragment past the server offset, then resyncs on the 416', expect: 'fragment-gap' },
  'unknown-session': { does: 'sends Close-Session for a session id never issued (no upload)', expect: 'close-unknown-session' },
  'double-close': { does: 'uploads, closes, then closes the same session again', expect: 'close-after-end' },
  'no-resend': { does: 'gives up when an Ack is lost (the connection closes before the answer) instead of resending', expect: 'check-client cases lost-fragment-ack, lost-close-ack' },
  'ignore-range': { does: "restarts at byte 0 after a 416 instead of at the server's BITS-Received-Content-Range", expect: 'check-client case resync-416' },
  'no-shrink': { does: 'resends a Fragment answered 413 at the same size instead of smaller', expect: 'check-client case shrink-413' },
  'no-restart': { does: 'gives up on 0x8020001F instead of starting again at Create-Session', expect: 'check-client case session-lost' },
  'no-close-resend': { does: 'takes a 5xx Close-Session Ack as final instead of resending the Close', expect: 'check-client case close-5xx' },
  'resend-close-4xx': { does: 'resends a Close-Session answered 4xx, which is final', expect: 'check-client case close-4xx' },
};

export function isMisbehaveMode(value: string): value is MisbehaveMode {
  return (MISBEHAVE_MODES as readonly string[]).includes(value);
}
