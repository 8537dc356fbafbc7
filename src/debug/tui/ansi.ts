// Terminal text helpers for the TUI: width of styled text, padding and clipping that
// keep ANSI escapes intact, and boxes. Raw ANSI (ECMA-48) only; chalk styles the text.

// eslint-disable-next-line no-control-regex
const ANSI_RE = /\x1b\[[0-9;?]*[A-Za-z]/g;

export function stripAnsi(s: string): string { return s.replace(ANSI_RE, ''); }

/** Printed width (every code point counts 1: the TUI prints ASCII and box drawing only). */
export function visibleWidth(s: string): number { return [...stripAnsi(s)].length; }

/** Clips `s` to `w` visible columns and pads it with spaces to exactly `w`. */
export function fit(s: string, w: number): string {
  let out = '', n = 0, k = 0;
  let styled = false;
  while (k < s.length && n < w) {
    if (s[k] === '\x1b') {
      ANSI_RE.lastIndex = k;
      const m = ANSI_RE.exec(s);
      if (m && m.index === k) { out += m[0]; styled = true; k += m[0].length; continue; }
    }
    const cp = s.codePointAt(k) ?? 0;
    const ch = String.fromCodePoint(cp);
    out += ch;
    k += ch.length;
    n++;
  }
  // Keep trailing escapes (style resets) that follow the last visible character.
  while (k < s.length && s[k] === '\x1b') {
    ANSI_RE.lastIndex = k;
    const m = ANSI_RE.exec(s);
    if (!m || m.index !== k) break;
    out += m[0];
    k += m[0].length;
  }
  if (styled) out += '\x1b[0m';
  return out + ' '.repeat(Math.max(0, w - n));
}

/** A box of `w` × `h` cells (borders included) titled `title`, holding `lines` (clipped). */
export function box(title: string, lines: string[], w: number, h: number): string[] {
  const inner = w - 2;
  const t = title ? `─ ${title} ` : '';
  const top = '┌' + fit(t + '─'.repeat(Math.max(0, inner - visibleWidth(t))), inner) + '┐';
  const out = [top];
  for (let k = 0; k < h - 2; k++) out.push('│' + fit(lines[k] ?? '', inner) + '│');
  out.push('└' + '─'.repeat(inner) + '┘');
  return out;
}

/** Boxes stacked vertically: [title, lines, height][]; the last one takes the rest of `h`. */
export function column(boxes: [string, string[], number][], w: number, h: number): string[] {
  const out: string[] = [];
  boxes.forEach(([title, lines, bh], k) => {
    const height = k === boxes.length - 1 ? h - out.length : bh;
    if (height >= 3) out.push(...box(title, lines, w, height));
  });
  while (out.length < h) out.push(' '.repeat(w));
  return out.slice(0, h);
}

export const CSI = '\x1b[';
export const ALT_SCREEN_ON = '\x1b[?1049h', ALT_SCREEN_OFF = '\x1b[?1049l';
export const CURSOR_HIDE = '\x1b[?25l', CURSOR_SHOW = '\x1b[?25h';
export const HOME = '\x1b[H', CLEAR_EOL = '\x1b[K', CLEAR = '\x1b[2J';
