import { describe, expect, it } from 'vitest';
import { BufferCharBackend } from '../../src/devices/chardev';

describe('BufferCharBackend', () => {
  it('keeps megabytes of output and reads it back as bytes and Latin-1 text', () => {
    // A guest printing /proc/kallsyms writes several MB; `text` once spread every byte
    // into String.fromCharCode and overflowed the stack.
    const b = new BufferCharBackend();
    const chunk = Uint8Array.from({ length: 4099 }, (_, i) => (i * 7) & 0xff);
    for (let i = 0; i < 1000; i++) b.write(chunk);
    const text = b.text;
    expect(text.length).toBe(4_099_000);
    expect(text.charCodeAt(4099 + 5)).toBe(35);
    expect(text.charCodeAt(4_098_999)).toBe((4098 * 7) & 0xff);
    expect(b.bytes.length).toBe(4_099_000);
    expect(b.bytes[4099 * 999 + 1]).toBe(7);
  });

  it('decodes incrementally between writes and starts over after clear()', () => {
    const b = new BufferCharBackend();
    b.write(new TextEncoder().encode('login: '));
    expect(b.text).toBe('login: ');
    b.write(Uint8Array.of(0xe9, 0x0a));
    expect(b.text).toBe('login: \u00e9\n');
    b.clear();
    expect(b.text).toBe('');
    expect(b.bytes.length).toBe(0);
    b.write(Uint8Array.of(0x41));
    expect(b.text).toBe('A');
  });
});
