/**
 * Runs an in-process command (a `Command.run` or the CLI's `main`) and captures what it writes
 * to stdout and stderr, restoring both streams afterwards even if it throws.
 */
import { vi } from 'vitest';

export interface CommandOutput {
  code: number;
  out: string;
  err: string;
}

export async function captureOutput(run: () => Promise<number>): Promise<CommandOutput> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  try {
    const code = await run();
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
