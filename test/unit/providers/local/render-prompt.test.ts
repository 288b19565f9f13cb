import { describe, expect, it } from 'vitest';
import { renderChat, renderPrompt } from '../../../../src/providers/local/index.js';

describe('renderChat', () => {
  it('renders one labelled line per message and leaves the assistant turn open', () => {
    const text = renderChat([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'What is a token?', name: 'ada' },
      { role: 'assistant', content: 'A small piece of text.' },
      { role: 'developer', content: 'Answer in English.' },
      { role: 'tool', content: '{"ok":true}' },
      { role: 'user', content: 'Thanks!\nBye.' },
    ]);
    expect(text).toBe(
      [
        'System: You are terse.',
        'User (ada): What is a token?',
        'Assistant: A small piece of text.',
        'Developer: Answer in English.',
        'Tool: {"ok":true}',
        'User: Thanks!\nBye.',
        'Assistant:',
      ].join('\n'),
    );
  });

  it('renders an empty chat as just the open assistant turn', () => {
    expect(renderChat([])).toBe('Assistant:');
  });
});

describe('renderPrompt', () => {
  it('passes a text prompt through unchanged', () => {
    expect(renderPrompt({ kind: 'text', prompt: '  Once upon a time' })).toBe('  Once upon a time');
  });

  it('renders chat input as a transcript', () => {
    expect(renderPrompt({ kind: 'chat', messages: [{ role: 'user', content: 'hi' }] })).toBe(
      'User: hi\nAssistant:',
    );
  });
});
