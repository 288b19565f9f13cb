import { describe, expect, it } from 'vitest';
import { parseSse, type SseEvent, SseOverflowError } from '../../../../src/providers/shared/sse.js';

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  for (const part of parts) yield encoder.encode(part);
}

async function parseAll(...parts: string[]): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for await (const event of parseSse(chunks(...parts))) events.push(event);
  return events;
}

describe('parseSse', () => {
  it('parses LF-framed events with names, ids and default types', async () => {
    expect(await parseAll('event: ping\ndata: {}\n\nid: 7\ndata: hello\n\n')).toEqual([
      { event: 'ping', data: '{}' },
      { event: 'message', data: 'hello', id: '7' },
    ]);
  });

  it('parses CRLF and lone CR line endings', async () => {
    expect(await parseAll('data: a\r\n\r\ndata: b\r\rdata: c\n\n')).toEqual([
      { event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
      { event: 'message', data: 'c' },
    ]);
  });

  it('joins multi-line data with newlines', async () => {
    expect(await parseAll('data: one\ndata: two\ndata:three\n\n')).toEqual([
      { event: 'message', data: 'one\ntwo\nthree' },
    ]);
  });

  it('ignores comments, unknown fields and events without data', async () => {
    expect(
      await parseAll(': keep-alive\n\nretry: 100\nfoo: bar\n\nevent: empty\n\ndata: x\n\n'),
    ).toEqual([{ event: 'message', data: 'x' }]);
  });

  it('reassembles events split anywhere, including inside CRLF and multi-byte characters', async () => {
    const text = 'event: delta\r\ndata: {"text":"héllo ✓"}\r\n\r\n';
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut += 1) {
      const events: SseEvent[] = [];
      async function* split(): AsyncGenerator<Uint8Array> {
        yield bytes.slice(0, cut);
        yield bytes.slice(cut);
      }
      for await (const event of parseSse(split())) events.push(event);
      expect(events).toEqual([{ event: 'delta', data: '{"text":"héllo ✓"}' }]);
    }
  });

  it('delivers a last event that lacks the final blank line when the body ends cleanly', async () => {
    expect(await parseAll('data: a\n\ndata: [DONE]')).toEqual([
      { event: 'message', data: 'a' },
      { event: 'message', data: '[DONE]' },
    ]);
  });

  it('yields each event before reading the next chunk', async () => {
    const pulled: number[] = [];
    async function* body(): AsyncGenerator<Uint8Array> {
      for (let index = 0; index < 3; index += 1) {
        pulled.push(index);
        yield new TextEncoder().encode(`data: ${index}\n\n`);
      }
    }
    const iterator = parseSse(body());
    await iterator.next();
    expect(pulled).toEqual([0]);
    await iterator.next();
    expect(pulled).toEqual([0, 1]);
    await iterator.return(undefined);
  });

  it('refuses an event larger than the limit', async () => {
    const events = parseSse(chunks('data: ' + 'x'.repeat(100), 'y'.repeat(100)), 64);
    await expect(events.next()).rejects.toBeInstanceOf(SseOverflowError);
  });
});
