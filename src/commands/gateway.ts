import type { Command } from './command.js';

// Placeholder until the subcommand is built; replaced by its owner.
export const command: Command = {
  name: 'gateway',
  summary: '(not built yet)',
  help: 'bitsgate gateway: not built yet',
  async run() {
    process.stderr.write('bitsgate gateway: not built yet\n');
    return 1;
  },
};
