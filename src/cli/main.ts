// The `ts86` command: parsing and printing only; all emulation lives in the library.
import { Command, CommanderError } from 'commander';
import chalk from 'chalk';
import { registerDisasmCommand } from './disasm';
import { registerRunCommand } from './run';
import { registerStepCommand } from './step';
import { UserError } from './errors';

const program = new Command();
program
  .name('ts86')
  .description('An x86 PC emulator in TypeScript')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ outputError: (str, write) => write(chalk.red(str)) });

registerRunCommand(program);
registerDisasmCommand(program);
registerStepCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  if (e instanceof UserError) {
    process.stderr.write(chalk.red(`ts86: ${e.message}\n`));
    process.exit(2);
  }
  throw e;
}
