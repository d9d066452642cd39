/**
 * `error-code-format`: how every Ack of the run wrote its error fields, judged once over all
 * of them so a server that writes codes in decimal shows up as one deviation, not in every
 * case. §6: the code is an HRESULT in hex (`0x80070057`; [M] writes `x8020001F`, accepted);
 * `BITS-Error-Context` is 0x5 when the BITS extension itself answers (every error this suite
 * provokes). §3: the error fields appear only when the status is not 200/201 [W]; both
 * header names, `BITS-Error-Code` [W] and `BITS-Error` [M], are accepted.
 */
import type { HeaderList } from '../../observation.js';
import { ERROR_CONTEXT_SERVER } from '../../protocol/encode.js';
import { headerValue, parseErrorContext } from '../../protocol/index.js';

export interface AckSeen {
  /** Which packet, e.g. `fragment-gap: Fragment 20-29/30`. */
  what: string;
  status: number;
  headers: HeaderList;
}

const HEX_HRESULT = /^0?[xX][0-9a-fA-F]{1,8}$/;

/** Deviations over all Acks; `undefined` when no error Ack was seen (nothing to judge). */
export function errorFormatDeviations(acks: readonly AckSeen[]): string[] | undefined {
  const out: string[] = [];
  let errors = 0;
  for (const a of acks) {
    const code = headerValue(a.headers, 'BITS-Error-Code') ?? headerValue(a.headers, 'BITS-Error');
    const context = headerValue(a.headers, 'BITS-Error-Context');
    const success = a.status === 200 || a.status === 201;
    if (success) {
      if (code !== undefined) out.push(`${a.what}: ${a.status} Ack carries BITS-Error-Code ${JSON.stringify(code.slice(0, 20))} (only error Acks do)`);
      continue;
    }
    errors++;
    if (code === undefined) {
      out.push(`${a.what}: ${a.status} Ack without BITS-Error-Code`);
      continue;
    }
    if (!HEX_HRESULT.test(code)) out.push(`${a.what}: BITS-Error-Code ${JSON.stringify(code.slice(0, 20))} is not hex (expected e.g. 0x80070057)`);
    if (context === undefined) {
      out.push(`${a.what}: ${a.status} Ack without BITS-Error-Context (expected 0x5)`);
      continue;
    }
    const ctx = parseErrorContext(context);
    if (!ctx.ok) out.push(`${a.what}: BITS-Error-Context ${JSON.stringify(context.slice(0, 20))}: ${ctx.reason}`);
    else if (ctx.value !== ERROR_CONTEXT_SERVER) out.push(`${a.what}: BITS-Error-Context ${context}, expected 0x5 (the BITS extension answered)`);
    else if (!HEX_HRESULT.test(context)) out.push(`${a.what}: BITS-Error-Context ${JSON.stringify(context)} is not hex (expected 0x5)`);
  }
  return errors === 0 && out.length === 0 ? undefined : out;
}
