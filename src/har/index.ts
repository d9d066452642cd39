/** HAR 1.2 in and out: captures from other tools into observations, observations into captures. */
export * from './har-types.js';
export { toHar, emptyHar, harEntry, BODY_COMMENT, type HarOptions } from './to-har.js';
export { fromHar, looksLikeHar, parseHarTime, type HarImport, type HarNotice } from './from-har.js';
export { observationOfPacket, HEADERS_DROPPED_COMMENT } from './packet-observation.js';
