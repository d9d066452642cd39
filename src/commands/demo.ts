import type { Command } from './command.js';

// Placeholder until the subcommand is built; replaced by its owner.
export const command: Command = {
  name: 'demo',
  summary: '(not built yet)',
  help: 'bitsgate demo: not built yet',
  async run() {
    process.stderr.write('bitsgate demo: not built yet\n');
    return 1;
  },
};
