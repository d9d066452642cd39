/**
 * HAR 1.2 (HTTP Archive), the subset bitsgate writes and reads. Field names and meaning follow
 * the 1.2 spec; `_`-prefixed fields are extensions that readers must ignore unless they know
 * the writer (we honour `_bits` only from creator `bitsgate`).
 */

export interface HarHeader {
  name: string;
  value: string;
  comment?: string;
}

export interface HarTimings {
  blocked?: number;
  dns?: number;
  connect?: number;
  send: number;
  wait: number;
  receive: number;
  ssl?: number;
  comment?: string;
}

export interface HarRequest {
  method: string;
  url: string;
  httpVersion: string;
  cookies: unknown[];
  headers: HarHeader[];
  queryString: Array<{ name: string; value: string }>;
  postData?: { mimeType: string; text?: string; params?: unknown[]; comment?: string };
  headersSize: number;
  bodySize: number;
  comment?: string;
}

export interface HarResponse {
  status: number;
  statusText: string;
  httpVersion: string;
  cookies: unknown[];
  headers: HarHeader[];
  content: { size: number; mimeType: string; text?: string; encoding?: string; compression?: number; comment?: string };
  redirectURL: string;
  headersSize: number;
  bodySize: number;
  comment?: string;
}

/** What bitsgate adds to each entry: the exchange exactly as observed, and its decoded BITS fields. */
export interface BitsEntryFields {
  exchange: number;
  connectionId: number;
  client: { address: string; port: number };
  /** The request target as sent (origin-form); `request.url` is the absolute form HAR requires. */
  target: string;
  /** Epoch ms, exact (startedDateTime is rounded to the millisecond by ISO 8601 anyway). */
  startedAt: number;
  respondedAt?: number;
  endedAt: number;
  responder?: 'upstream' | 'gateway';
  upstreamConnectionId?: number;
  error?: string;
  /** The gateway injected a fault into this exchange (Observation.injected). */
  injected?: { id: string; rule: string; action: string };
  /** Decoded packet, for readers that do not decode BITS headers themselves. */
  packet: {
    kind: string;
    sessionId?: string;
    range?: { start: number; end: number; total: number };
    ackedOffset?: number;
    errorCode?: string;
  };
}

export interface HarEntry {
  pageref?: string;
  startedDateTime: string;
  time: number;
  request: HarRequest;
  response: HarResponse;
  cache: Record<string, unknown>;
  timings: HarTimings;
  serverIPAddress?: string;
  connection?: string;
  comment?: string;
  _bits?: BitsEntryFields;
  [extension: `_${string}`]: unknown;
}

export interface HarLog {
  version: string;
  creator: { name: string; version: string; comment?: string };
  browser?: { name: string; version: string };
  pages?: unknown[];
  entries: HarEntry[];
  comment?: string;
}

export interface HarFile {
  log: HarLog;
}

/** creator.name of the HAR files bitsgate writes. */
export const HAR_CREATOR = 'bitsgate';
