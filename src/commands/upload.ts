import type { Command } from './command.js';

// Placeholder until the subcommand is built; replaced by its owner.
export const command: Command = {
  name: 'upload',
  summary: '(not built yet)',
  help: 'bitsgate upload: not built yet',
  async run() {
    process.stderr.write('bitsgate upload: not built yet\n');
    return 1;
  },
};
