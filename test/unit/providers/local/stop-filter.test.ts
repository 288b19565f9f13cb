import { describe, expect, it } from 'vitest';
import { StopFilter } from '../../../../src/providers/local/stop-filter.js';

function feed(filter: StopFilter, pieces: string[]): string[] {
  return pieces.map((piece) => filter.push(piece));
}

describe('StopFilter', () => {
  it('passes text through when there are no stop sequences', () => {
    const filter = new StopFilter([]);
    expect(feed(filter, ['Hello', ' world'])).toEqual(['Hello', ' world']);
    expect(filter.hasStopped).toBe(false);
    expect(filter.flush()).toBe('');
  });

  it('cuts the text right before a stop sequence inside one piece', () => {
    const filter = new StopFilter(['END']);
    expect(filter.push('abcENDdef')).toBe('abc');
    expect(filter.hasStopped).toBe(true);
    expect(filter.push('more')).toBe('');
    expect(filter.flush()).toBe('');
  });

  it('holds back a possible prefix until it is disambiguated', () => {
    const filter = new StopFilter(['\n\n']);
    expect(filter.push('one\n')).toBe('one');
    expect(filter.push('two')).toBe('\ntwo');
    expect(filter.push('\n')).toBe('');
    expect(filter.push('\nthree')).toBe('');
    expect(filter.hasStopped).toBe(true);
  });

  it('matches a stop sequence split across several pieces', () => {
    const filter = new StopFilter(['STOP']);
    expect(feed(filter, ['go S', 'T', 'O', 'P after'])).toEqual(['go ', '', '', '']);
    expect(filter.hasStopped).toBe(true);
  });

  it('uses the earliest match among several stop sequences', () => {
    const filter = new StopFilter(['world', 'lo w']);
    expect(filter.push('hello world')).toBe('hel');
  });

  it('releases a held tail at the end when no stop followed', () => {
    const filter = new StopFilter(['abc']);
    expect(filter.push('xxab')).toBe('xx');
    expect(filter.flush()).toBe('ab');
  });

  it('handles a prefix that restarts inside itself', () => {
    const filter = new StopFilter(['aab']);
    expect(filter.push('aa')).toBe('');
    expect(filter.push('a')).toBe('a');
    expect(filter.push('b!')).toBe('');
    expect(filter.hasStopped).toBe(true);
  });

  it('ignores empty stop strings', () => {
    const filter = new StopFilter(['']);
    expect(filter.push('text')).toBe('text');
    expect(filter.hasStopped).toBe(false);
  });
});
