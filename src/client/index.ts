/** The BITS upload client used by `bitsgate upload`, `bitsgate demo`, tests and benchmarks. */
export {
  uploadFile,
  UploadError,
  UploadInterruptedError,
  MIN_FRAGMENT_SIZE,
  type RetryWait,
  type UploadOptions,
  type UploadProgress,
  type UploadResult,
} from './upload-client.js';
export { MISBEHAVE_MODES, MISBEHAVE_DESCRIPTIONS, isMisbehaveMode, type MisbehaveMode } from './misbehave.js';
export { DEFAULT_BACKOFF_MAX_MS, DEFAULT_RETRY_FOR_MS, formatDuration } from './retry-policy.js';
