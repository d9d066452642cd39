/**
 * A path-prefix option (`--reply-prefix`, demo's `--upload-prefix`) checked as the embedded
 * server checks it (checkReplyPrefix), so a prefix it would refuse at start is a usage error
 * naming the option instead. One place for serve, demo and check-client.
 */
import { checkReplyPrefix } from '../server/config.js';
import { UsageError } from '../util/option-values.js';

export function parsePrefixOption(option: string, value: string): string {
  const checked = checkReplyPrefix(value);
  if (!checked.ok) throw new UsageError(`${option}: ${checked.reason}`);
  return checked.value;
}
