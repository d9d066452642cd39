#!/usr/bin/env node
/**
 * `bitsgate`: one command, several subcommands. With no subcommand (or options only) it
 * runs the gateway. This file only dispatches; each subcommand lives in src/commands/.
 */
import { UsageError } from './util/option-values.js';
import type { Command } from './commands/command.js';

const loaders: Record<string, () => Promise<Command>> = {
  gateway: async () => (await import('./commands/gateway.js')).command,
  serve: async () => (await import('./commands/serve.js')).command,
  upload: async () => (await import('./commands/upload.js')).command,
  analyze: async () => (await import('./commands/analyze.js')).command,
  export: async () => (await import('./commands/export.js')).command,
  demo: async () => (await import('./commands/demo.js')).command,
  'check-client': async () => (await import('./commands/check-client.js')).command,
  'check-server': async () => (await import('./commands/check-server.js')).command,
};

async function mainHelp(): Promise<string> {
  const lines = [
    'bitsgate: an inspection gateway for the Microsoft BITS upload protocol',
    '',
    'Usage:',
    '  bitsgate [gateway] [--upstream http://HOST:PORT] [options]   run the gateway (default)',
    '  bitsgate <command> [options]',
    '',
    'Commands:',
  ];
  for (const name of Object.keys(loaders)) {
    const cmd = await loaders[name]!();
    lines.push(`  ${name.padEnd(12)} ${cmd.summary}`);
  }
  lines.push('', "Run 'bitsgate <command> --help' for a command's options.");
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    if (first === 'help' && rest[0] && loaders[rest[0]]) {
      process.stdout.write((await loaders[rest[0]]!()).help + '\n');
    } else {
      process.stdout.write((await mainHelp()) + '\n');
    }
    return 0;
  }
  if (first === '--version' || first === '-V') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
    process.stdout.write(pkg.version + '\n');
    return 0;
  }
  const isSubcommand = first !== undefined && !first.startsWith('-');
  if (isSubcommand && !loaders[first]) {
    process.stderr.write(`bitsgate: unknown command ${JSON.stringify(first)}\n\n${await mainHelp()}\n`);
    return 2;
  }
  const command = await loaders[isSubcommand ? first : 'gateway']!();
  const args = isSubcommand ? rest : argv;
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return 0;
  }
  try {
    return await command.run(args);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS')) {
      process.stderr.write(`bitsgate ${command.name}: ${(err as Error).message}\n` +
        `Run 'bitsgate ${command.name} --help' for usage.\n`);
      return 2;
    }
    throw err;
  }
}

const invokedDirectly = process.argv[1] !== undefined &&
  /(?:^|[\\/])(?:cli\.(?:js|ts)|bitsgate(?:\.js)?)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => {
      process.stderr.write(`bitsgate: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
