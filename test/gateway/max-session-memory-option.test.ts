import { describe, expect, it } from 'vitest';
import { command, parseGatewayArgs } from '../../src/commands/gateway.js';
import { TRACKER_DEFAULTS } from '../../src/sessions/tracker.js';
import { UsageError } from '../../src/util/option-values.js';

describe('bitsgate gateway --max-session-memory', () => {
  it('defaults to the tracker default, 256 MiB, as the help says', () => {
    expect(parseGatewayArgs([]).maxSessionMemory).toBe(256 * 1024 * 1024);
    expect(TRACKER_DEFAULTS.maxSessionMemory).toBe(256 * 1024 * 1024);
    expect(command.help).toContain('--max-session-memory SIZE');
    expect(command.help).toContain('(default 256MiB;');
  });

  it('takes a byte count with binary units', () => {
    expect(parseGatewayArgs(['--max-session-memory', '64MiB']).maxSessionMemory).toBe(64 * 1024 * 1024);
    expect(parseGatewayArgs(['--max-session-memory', '1g']).maxSessionMemory).toBe(1024 ** 3);
    expect(parseGatewayArgs(['--max-session-memory', '16777216']).maxSessionMemory).toBe(16 * 1024 * 1024);
  });

  it('refuses values that are not sizes, or too small to hold sessions, naming the option and the range', () => {
    expect(() => parseGatewayArgs(['--max-session-memory', 'lots'])).toThrow(UsageError);
    expect(() => parseGatewayArgs(['--max-session-memory', 'lots'])).toThrow('--max-session-memory: expected a byte count such as 1048576, 512k or 4MiB, got "lots"');
    expect(() => parseGatewayArgs(['--max-session-memory', '1k'])).toThrow('--max-session-memory: expected 16MiB to 1TiB, got "1k"');
    expect(() => parseGatewayArgs(['--max-session-memory', '-5'])).toThrow(/--max-session-memory/);
    expect(() => parseGatewayArgs(['--max-session-memory', '2TiB'])).toThrow('--max-session-memory: expected 16MiB to 1TiB, got "2TiB"');
  });
});
