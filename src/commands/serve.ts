import type { Command } from './command.js';

// Placeholder until the subcommand is built; replaced by its owner.
export const command: Command = {
  name: 'serve',
  summary: '(not built yet)',
  help: 'bitsgate serve: not built yet',
  async run() {
    process.stderr.write('bitsgate serve: not built yet\n');
    return 1;
  },
};
