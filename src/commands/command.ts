/** A `bitsgate` subcommand. `run` returns the process exit code. */
export interface Command {
  name: string;
  /** One line for the command list in `bitsgate --help`. */
  summary: string;
  /** Full `--help` text of the subcommand. */
  help: string;
  run(args: string[]): Promise<number>;
}
