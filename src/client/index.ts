/** The BITS upload client used by `bitsgate upload`, `bitsgate demo`, tests and benchmarks. */
export { uploadFile, UploadError, type UploadOptions, type UploadProgress, type UploadResult } from './upload-client.js';
export { MISBEHAVE_MODES, MISBEHAVE_DESCRIPTIONS, isMisbehaveMode, type MisbehaveMode } from './misbehave.js';
export { classifyStatus } from './retry-policy.js';
