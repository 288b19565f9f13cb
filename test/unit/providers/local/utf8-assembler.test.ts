import { describe, expect, it } from 'vitest';
import { Utf8Assembler } from '../../../../src/providers/local/utf8-assembler.js';

const bytes = (text: string): number[] => [...new TextEncoder().encode(text)];

describe('Utf8Assembler', () => {
  it('passes complete strings straight through', () => {
    const utf8 = new Utf8Assembler();
    expect(utf8.push(' hello')).toBe(' hello');
    expect(utf8.midCharacter).toBe(false);
  });

  it('holds the bytes of a split character until it is complete', () => {
    const utf8 = new Utf8Assembler();
    const emoji = bytes('🌦'); // four bytes
    expect(utf8.push(emoji.slice(0, 1))).toBe('');
    expect(utf8.midCharacter).toBe(true);
    expect(utf8.push(emoji.slice(1, 3))).toBe('');
    expect(utf8.push([...emoji.slice(3), ...bytes('天').slice(0, 1)])).toBe('🌦');
    expect(utf8.push(bytes('天').slice(1))).toBe('天');
    expect(utf8.midCharacter).toBe(false);
  });

  it('accepts only spellings that keep the byte stream valid', () => {
    const utf8 = new Utf8Assembler();
    expect(utf8.accepts([0x80])).toBe(false); // continuation byte without a lead
    expect(utf8.accepts([0xc0, 0x80])).toBe(false); // overlong
    expect(utf8.accepts([0xed, 0xa0])).toBe(false); // surrogate
    expect(utf8.accepts([0xe5])).toBe(true);
    utf8.push([0xe5]);
    expect(utf8.accepts('a')).toBe(false); // a character is unfinished
    expect(utf8.accepts([0x41])).toBe(false);
    expect(utf8.accepts([0xa4, 0xa9])).toBe(true);
    expect(utf8.push([0xa4, 0xa9])).toBe('天');
  });

  it('can drop an unfinished character', () => {
    const utf8 = new Utf8Assembler();
    utf8.push([0xf0, 0x9f]);
    utf8.discard();
    expect(utf8.midCharacter).toBe(false);
    expect(utf8.push('ok')).toBe('ok');
  });
});
