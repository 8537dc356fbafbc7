// Text styles of the full-screen stepper. chalk guesses colour support from the
// environment (CI=true turns it off), but a full-screen UI that owns a terminal knows it
// can use video attributes: inverse marks changed registers. NO_COLOR still wins.
import defaultChalk, { Chalk, type ChalkInstance } from 'chalk';

export let style: ChalkInstance = defaultChalk;

/** Called when the TUI starts drawing on `isTty` output. */
export function useTerminalStyle(isTty: boolean): void {
  const level = isTty && !process.env.NO_COLOR ? Math.max(defaultChalk.level, 1) : defaultChalk.level;
  style = new Chalk({ level: level as 0 | 1 | 2 | 3 });
}
