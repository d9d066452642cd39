import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { command, parseGatewayArgs } from '../../src/commands/gateway.js';
import { parseInjectionRule } from '../../src/inject/rule-syntax.js';

const dir = mkdtempSync(join(tmpdir(), 'bitsgate-inject-cmd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = join(__dirname, '..', '..', 'src', 'cli.ts');

describe('--inject', () => {
  it('is repeatable and keeps the rules in order', () => {
    const o = parseGatewayArgs(['--inject', 'close: drop-ack times=1', '--inject', 'fragment#2: status=416 range=server']);
    expect(o.inject).toEqual([
      { rule: parseInjectionRule('close: drop-ack times=1'), origin: 'cli' },
      { rule: parseInjectionRule('fragment#2: status=416 range=server'), origin: 'cli' },
    ]);
    expect(parseGatewayArgs([]).inject).toEqual([]);
  });

  it('a rule that does not parse stops startup with exit code 2, naming the rule and the column', () => {
    const out = spawnSync(process.execPath, ['--import', 'tsx', cli, '--inject', 'fragment#3: statu=503'], { encoding: 'utf8' });
    expect(out.status).toBe(2);
    expect(out.stderr.split('\n')[0]).toBe(`bitsgate gateway: --inject "fragment#3: statu=503": unknown key 'statu' at column 12`);
  });

  it('documents the grammar, with one example per action, in --help', () => {
    for (const text of ['status=NNN', 'drop-ack', 'reset-after=N|N%', 'delay=2s', 'bandwidth=64KiB/s', 'forget-session', 'url=/uploads/*', 'times=1', 'p=0.25']) {
      expect(command.help).toContain(text);
    }
  });

  it('reads `inject:` from the config file (origin config); the command line replaces the list', () => {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'upstream: http://127.0.0.1:9\ninject:\n  - "close: drop-ack"\n  - "any: delay=1s url=/slow/**"\n');
    expect(parseGatewayArgs(['--config', file]).inject.map((r) => [r.rule.text, r.origin])).toEqual([
      ['close: drop-ack', 'config'], ['any: delay=1000ms url=/slow/**', 'config'],
    ]);
    expect(parseGatewayArgs(['--config', file, '--inject', 'ping: status=503']).inject.map((r) => [r.rule.text, r.origin])).toEqual([
      ['ping: status=503', 'cli'],
    ]);
  });

  it('a bad rule in the config file names the file, line, rule and column', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'upstream: http://127.0.0.1:9\ninject:\n  - "close: drop-ack"\n  - "fragment: reset-after=150%"\n');
    expect(() => parseGatewayArgs(['--config', file])).toThrow(
      `${file}:2: inject "fragment: reset-after=150%": reset-after percentage must be 0-100 at column 22`,
    );
  });
});
