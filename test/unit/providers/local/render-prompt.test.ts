import { describe, expect, it } from 'vitest';
import { renderChat, renderPrompt } from '../../../../src/providers/local/index.js';

describe('renderChat (models without a chat template)', () => {
  it('writes the contents verbatim, one message per line, without roles or names', () => {
    const text = renderChat([
      { role: 'system', content: 'Define briefly.' },
      { role: 'user', content: 'What is a token?', name: 'ada' },
      { role: 'assistant', content: 'A small piece of text.' },
      { role: 'tool', content: '{"ok":true}' },
      { role: 'user', content: 'dog (noun):\nand cat?' },
    ]);
    expect(text).toBe(
      [
        'Define briefly.',
        'What is a token?',
        'A small piece of text.',
        '{"ok":true}',
        'dog (noun):\nand cat?',
      ].join('\n'),
    );
  });

  it('renders an empty chat as empty text', () => {
    expect(renderChat([])).toBe('');
  });
});

describe('renderPrompt', () => {
  it('passes a text prompt through unchanged', () => {
    expect(renderPrompt({ kind: 'text', prompt: '  Once upon a time' })).toBe('  Once upon a time');
  });

  it('renders chat input as its plain text', () => {
    expect(renderPrompt({ kind: 'chat', messages: [{ role: 'user', content: 'hi' }] })).toBe('hi');
  });
});
