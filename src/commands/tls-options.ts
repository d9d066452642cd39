/**
 * `--ca FILE` and `--insecure`, read the same way by every command that talks to a BITS
 * server as a client (upload, check-server).
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../util/option-values.js';

export interface ClientTls {
  ca?: Buffer;
  insecure?: boolean;
}

/** Undefined without either option; refuses them when no URL is https:// (`secure` false). */
export function parseClientTls(values: { ca?: string; insecure?: boolean }, secure: boolean): ClientTls | undefined {
  let ca: Buffer | undefined;
  if (values.ca !== undefined) {
    try {
      ca = readFileSync(values.ca);
    } catch (err) {
      throw new UsageError(`--ca: cannot read ${values.ca}: ${(err as Error).message}`);
    }
  }
  if (!ca && !values.insecure) return undefined;
  if (!secure) throw new UsageError('--ca and --insecure are for https:// URLs');
  return { ...(ca && { ca }), ...(values.insecure && { insecure: true }) };
}
