import type { Command } from './command.js';

// Placeholder until the subcommand is built; replaced by its owner.
export const command: Command = {
  name: 'analyze',
  summary: '(not built yet)',
  help: 'bitsgate analyze: not built yet',
  async run() {
    process.stderr.write('bitsgate analyze: not built yet\n');
    return 1;
  },
};
