// --watch redraws in place on a terminal (cursor up over the previous frame, erase, draw) and prints
// only changed frames on a pipe; plus the formatting helpers the tables use.
import { describe, expect, it } from 'vitest';
import { LiveArea } from '../../../src/cli/live-area';
import { duration, when } from '../../../src/cli/format';

function stream(isTTY: boolean, columns = 20) {
  const chunks: string[] = [];
  return { chunks, s: { isTTY, columns, write: (c: string) => chunks.push(c) } as unknown as NodeJS.WriteStream };
}

describe('LiveArea', () => {
  it('on a terminal, moves up over the previous frame (counting wrapped lines) and erases it', () => {
    const { chunks, s } = stream(true, 20);
    const area = new LiveArea(s);
    area.draw('one\ntwo');
    area.draw(`${'x'.repeat(45)}\nshort`); // 45 chars on 20 columns: 3 rows
    area.draw('three');
    expect(chunks).toEqual(['one\ntwo\n', '\x1b[2F\x1b[0Jxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nshort\n', '\x1b[4F\x1b[0Jthree\n']);
  });

  it('on a pipe, prints a frame only when its key changed', () => {
    const { chunks, s } = stream(false);
    const area = new LiveArea(s);
    area.draw('a 1s ago', 'a');
    area.draw('a 2s ago', 'a');
    area.draw('b', 'b');
    expect(chunks).toEqual(['a 1s ago\n', 'b\n']);
  });
});

describe('format', () => {
  it('durations read naturally at every scale', () => {
    expect([450, 1500, 12_000, 75_000, 3_725_000, 200_000_000].map(duration)).toEqual(['450ms', '1.5s', '12s', '1m15s', '1h02m', '2d07h']);
    expect(duration(undefined)).toBe('-');
  });
  it('times of today show the clock only; older ones the date too', () => {
    const now = new Date(2026, 10, 27, 12, 0, 0);
    expect(when(new Date(2026, 10, 27, 9, 5, 7), now)).toBe('09:05:07');
    expect(when(new Date(2026, 10, 25, 9, 5, 7), now)).toBe('2026-11-25 09:05:07');
  });
});
