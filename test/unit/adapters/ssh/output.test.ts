import { describe, expect, it } from 'vitest';
import { HeadTailBuffer, OutputTail } from '../../../../src/adapters/ssh/output';

describe('HeadTailBuffer', () => {
  it('returns everything, untruncated, while the output fits', () => {
    const b = new HeadTailBuffer(10);
    b.push(Buffer.from('hello'));
    b.push(Buffer.from('world'));
    expect(b.truncated).toBe(false);
    expect(b.text()).toBe('helloworld');
  });

  it('keeps exactly the first and last half and counts what it dropped', () => {
    const b = new HeadTailBuffer(8);
    for (const ch of 'abcdefghijklmnopqrstuvwxyz') b.push(Buffer.from(ch));
    expect(b.truncated).toBe(true);
    expect(b.total).toBe(26);
    expect(b.text()).toBe('abcd\n[... 18 bytes omitted ...]\nwxyz');
  });

  it('handles one chunk far larger than the bound', () => {
    const b = new HeadTailBuffer(6);
    b.push(Buffer.from('0123456789'.repeat(1000)));
    expect(b.text()).toBe('012\n[... 9994 bytes omitted ...]\n789');
  });

  it('decodes invalid UTF-8 with replacement characters instead of failing', () => {
    const b = new HeadTailBuffer(100);
    b.push(Buffer.from([0x61, 0xff, 0xfe, 0x62, 0xc3]));
    expect(b.text()).toBe('a\uFFFD\uFFFDb\uFFFD');
  });
});

describe('OutputTail', () => {
  it('keeps the last characters of all chunks', () => {
    const t = new OutputTail(5);
    t.push(Buffer.from('abc'));
    t.push(Buffer.from('defgh'));
    expect(t.value).toBe('defgh');
  });

  it('strips terminal escapes and control characters but keeps newlines and tabs', () => {
    const t = new OutputTail(100);
    t.push(Buffer.from('\x1b[31mred\x1b[0m\r\nnext\tcol\x07\x00'));
    expect(t.value).toBe('red\nnext\tcol');
  });
});
