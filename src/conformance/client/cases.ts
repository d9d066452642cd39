/**
 * The client conformance suite (`bitsgate check-client`): one case per recovery the reference
 * (bits-protocol.md §5, §6) says a Windows BITS client performs. Each case is a fault, written
 * in the `--inject` grammar (src/inject/rule-syntax.ts) and scoped to the one session the case
 * runs on, and the behaviour expected after it. Pure data; judge.ts decides.
 *
 * Every case also holds the client to the two Close rules of §5: never Close-Session before
 * the Ack of the last byte reached it, never before it fetched an upload-reply's reply.
 */

export const CLIENT_CASE_IDS = [
  'baseline',
  'lost-fragment-ack',
  'resync-416',
  'shrink-413',
  'session-lost',
  'lost-close-ack',
  'close-5xx',
  'close-4xx',
  'reply',
] as const;

export type ClientCaseId = (typeof CLIENT_CASE_IDS)[number];

export interface ClientCase {
  id: ClientCaseId;
  /** One line: what the gateway does to the session. */
  fault: string;
  /**
   * The fault as an injection rule without its session scope (the runner adds
   * `session=ID`), or undefined for the cases that inject nothing.
   */
  rule?: string;
  /** One line: what a Windows client does (what the judge checks). */
  expected: string;
  /** Where the reference says so. */
  reference: string;
  /** `reply`: the case needs an upload-reply job (a URL under the reply prefix). */
  needs?: 'reply';
  /** Hint printed when the fault could not fire on the session (e.g. too few fragments). */
  needsHint?: string;
}

export const CLIENT_CASES: readonly ClientCase[] = [
  {
    id: 'baseline',
    fault: 'none',
    expected: 'a clean upload: contiguous fragments, Close-Session after the last Ack, no warning or error from the tracker',
    reference: '§1, §5',
  },
  {
    id: 'lost-fragment-ack',
    fault: 'the first Fragment is relayed, the server answers, the gateway closes the connection before the Ack',
    rule: 'fragment#1: drop-ack times=1',
    expected: 'reconnect and resend that Fragment (same start) on the same session, then finish and close',
    reference: '§1 (session ≠ connection), §6 (no answer: resend)',
  },
  {
    id: 'resync-416',
    fault: "the second Fragment is answered 416 with BITS-Received-Content-Range = the server's offset",
    rule: 'fragment#2: status=416 range=server times=1',
    expected: 'the next Fragment starts at BITS-Received-Content-Range',
    reference: '§4 (gap), §6 (416)',
    needsHint: 'the upload needs at least 2 fragments: use a larger file or smaller fragments',
  },
  {
    id: 'shrink-413',
    fault: 'the first Fragment is answered 413',
    rule: 'fragment#1: status=413 times=1',
    expected: 'the next Fragment is smaller than the refused one',
    reference: '§3 (Fragment Ack), §6 (413, M 3.1.5.2.4)',
  },
  {
    id: 'session-lost',
    fault: 'from the second Fragment on, every packet of the session is answered 500 + 0x8020001F',
    rule: 'fragment#2: forget-session',
    expected: 'start again with Create-Session (a new session) and upload the whole file again',
    reference: '§5 (lost), §6 (0x8020001F, M 3.1.5.2.1)',
    needsHint: 'the upload needs at least 2 fragments: use a larger file or smaller fragments',
  },
  {
    id: 'lost-close-ack',
    fault: 'the first Close-Session is relayed, the server answers, the gateway closes the connection before the Ack',
    rule: 'close#1: drop-ack times=1',
    expected: 'reconnect and resend Close-Session (a 200 or 500 + 0x8020001F then ends it)',
    reference: '§3 (Close-Session Ack), §5 (close-after-end), §6',
  },
  {
    id: 'close-5xx',
    fault: 'the first Close-Session is answered 500 + 0x80004005 (not relayed)',
    rule: 'close#1: status=500 code=0x80004005 times=1',
    expected: 'resend Close-Session',
    reference: '§3, §6 (500-599 on Close: resend unless 0x8020001F)',
  },
  {
    id: 'close-4xx',
    fault: 'the first Close-Session is answered 403 + 0x80070005 (not relayed)',
    rule: 'close#1: status=403 code=0x80070005 times=1',
    expected: 'never resend that Close-Session (a 1xx-4xx Close Ack is final)',
    reference: '§3, §6 (100-499 on Close: no retry)',
  },
  {
    id: 'reply',
    fault: 'none (an upload-reply job)',
    expected: 'GET the BITS-Reply-URL of the final Fragment Ack before Close-Session',
    reference: '§1, §5 (close-before-reply)',
    needs: 'reply',
    needsHint: 'upload to a URL under the reply prefix (e.g. /reply/) so the server answers with BITS-Reply-URL',
  },
];

export function clientCase(id: ClientCaseId): ClientCase {
  return CLIENT_CASES.find((c) => c.id === id)!;
}

export function isClientCaseId(value: string): value is ClientCaseId {
  return (CLIENT_CASE_IDS as readonly string[]).includes(value);
}
