/**
 * Validates a HAR file against the HAR 1.2 JSON schema (har-schema 2.0.0, draft-06) with
 * ajv 8 + ajv-formats, plus the checks the schema cannot make (field-notes-2 §7): its
 * `"min": -1` is not a keyword, so timings >= -1 (send/wait/receive >= 0) and
 * `time` = sum of the non-negative timings are checked here.
 */
import { createRequire } from 'node:module';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const require = createRequire(import.meta.url);
const schemas = require('har-schema') as Record<string, { $id: string }>;
const draft06 = require('ajv/dist/refs/json-schema-draft-06.json') as object;

// strict: false because the schema uses keywords ajv does not know ("min", "optional").
const ajv = new (Ajv as unknown as typeof Ajv.default)({ strict: false, allErrors: true });
(addFormats as unknown as typeof addFormats.default)(ajv);
ajv.addMetaSchema(draft06);
for (const s of Object.values(schemas)) ajv.addSchema(s);
const validateSchema = ajv.getSchema('har.json#')!;

export function harProblems(har: unknown): string[] {
  const problems: string[] = [];
  if (!validateSchema(har)) {
    for (const e of validateSchema.errors ?? []) problems.push(`${e.instancePath} ${e.message}`);
  }
  const entries = (har as { log?: { entries?: unknown[] } }).log?.entries ?? [];
  entries.forEach((raw, i) => {
    const e = raw as { time: number; timings: Record<string, number> };
    let sum = 0;
    for (const [k, v] of Object.entries(e.timings ?? {})) {
      if (k === 'comment' || k === 'ssl') continue; // ssl is inside connect
      if (typeof v !== 'number' || v < -1) problems.push(`/log/entries/${i}/timings/${k} is ${v}`);
      if (['send', 'wait', 'receive'].includes(k) && v < 0) problems.push(`/log/entries/${i}/timings/${k} must be >= 0`);
      if (v > 0) sum += v;
    }
    if (Math.abs(sum - e.time) > 1e-6) problems.push(`/log/entries/${i}/time ${e.time} is not the sum of its timings (${sum})`);
  });
  return problems;
}
