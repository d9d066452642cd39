/**
 * The cases of `bitsgate check-server`, in the order they run: each is one scripted session
 * (or a summary over all of them) judged against one part of bits-protocol.md. The name is
 * the stable identifier a report, a test or a CI script refers to.
 */
export interface CaseDefinition {
  name: string;
  /** The sections of bits-protocol.md the case checks. */
  section: string;
  /** What it sends and what the reference expects, in one line (help text, README). */
  checks: string;
}

export const SERVER_CASES = [
  { name: 'ping', section: '§1 §3', checks: 'Ping -> 200 Ack' },
  { name: 'create-session', section: '§2 §3', checks: 'Create-Session with the BITS 1.5 GUID -> 200/201, BITS-Protocol, BITS-Session-Id (<= 100 chars), Accept-Encoding: Identity' },
  { name: 'create-session-guid-case', section: '§2 §8', checks: 'the same GUID in upper case -> 200/201 (GUIDs match case-insensitively)' },
  { name: 'create-session-no-common-protocol', section: '§3 §6', checks: 'only an unknown protocol GUID -> 400 + 0x80070057' },
  { name: 'fragments-contiguous', section: '§3 §4', checks: 'three contiguous Fragments -> 200 + BITS-Received-Content-Range E+1 each, then Close -> 200' },
  { name: 'fragment-gap', section: '§4', checks: 'a Fragment past R -> 416 + BITS-Received-Content-Range R' },
  { name: 'fragment-overlap', section: '§4 (Conflict)', checks: 'a Fragment starting before R and ending past it -> 200 + E+1 [W], or 416 + R [M]' },
  { name: 'fragment-duplicate', section: '§4 (Unverified)', checks: 'a Fragment wholly before R -> 200 or 416, with BITS-Received-Content-Range R' },
  { name: 'fragment-changed-total', section: '§4 §6', checks: 'a Fragment whose Content-Range total differs -> 400 + 0x80070057' },
  { name: 'unknown-session', section: '§3 §5 §6', checks: 'Fragment and Close-Session with a never-issued id -> 500 + 0x8020001F' },
  { name: 'close-open-no-data', section: '§5', checks: 'Create, Close -> 200; the session is then gone (0x8020001F)' },
  { name: 'close-mid-upload', section: '§5', checks: 'Close after a partial upload -> 200; the session is gone and nothing landed at the URL' },
  { name: 'close-uploaded', section: '§5', checks: 'Close after the last Fragment -> 200; the session is then gone' },
  { name: 'close-after-close', section: '§5', checks: 'a second Close-Session -> 500 + 0x8020001F' },
  { name: 'close-after-cancel', section: '§5', checks: 'Close-Session after Cancel-Session -> 500 + 0x8020001F' },
  { name: 'cancel-open-no-data', section: '§5', checks: 'Create, Cancel -> 200; the session is then gone' },
  { name: 'cancel-mid-upload', section: '§5', checks: 'Cancel after a partial upload -> 200; the session is then gone' },
  { name: 'cancel-uploaded', section: '§5 (Conflict)', checks: 'Cancel after the last Fragment -> 200 (the file stays [W] or goes [M])' },
  { name: 'cancel-after-cancel', section: '§3 §5', checks: 'a second Cancel-Session -> 500 + 0x8020001F (200 accepted: the session is gone either way)' },
  { name: 'cancel-after-close', section: '§3 §5', checks: 'Cancel-Session after Close-Session -> 500 + 0x8020001F (200 accepted)' },
  { name: 'upload-reply', section: '§1 §3 §7', checks: 'upload-reply vdir: BITS-Reply-URL on the final Ack only, and a GET of it -> 2xx' },
  { name: 'host-id', section: '§3 §7', checks: 'if the server issues BITS-Host-Id: a host name, a decimal fallback timeout, and that host answers Ping' },
  { name: 'error-code-format', section: '§3 §6', checks: 'every error Ack: BITS-Error-Code in hex, BITS-Error-Context 0x5; no error code on a 2xx Ack' },
] as const satisfies readonly CaseDefinition[];

export type ServerCaseName = (typeof SERVER_CASES)[number]['name'];

export function caseDefinition(name: ServerCaseName): CaseDefinition {
  return SERVER_CASES.find((c) => c.name === name)!;
}
