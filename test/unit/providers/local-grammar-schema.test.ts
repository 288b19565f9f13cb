import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/domain/errors.js';
import { grammarSchema } from '../../../src/providers/local/grammar-schema.js';
import { jsonRules, replyPlan } from '../../../src/providers/local/reply-grammar.js';
import type { ChatCompletionBody } from '../../../src/domain/inference/chat-request.js';

const AT = 'response_format.json_schema.schema';

function refusal(schema: unknown): { param: string | null | undefined; issue: string | undefined } {
  try {
    grammarSchema(schema, AT);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return { param: error.param, issue: error.details[0]?.issue };
  }
  throw new Error('not refused');
}

describe('grammarSchema', () => {
  it('keeps what the grammar enforces and leaves out annotations', () => {
    expect(
      grammarSchema(
        {
          $schema: 'https://json-schema.org/draft/2020-12/schema',
          title: 'Entry',
          type: 'object',
          properties: {
            word: { type: 'string', maxLength: 10, description: 'the word' },
            kind: { enum: ['noun', 'verb'] },
            tags: { type: 'array', items: { type: 'string' }, maxItems: 3 },
            note: { type: ['string', 'null'] },
          },
          required: ['word'],
          additionalProperties: false,
          'x-vendor': true,
        },
        AT,
      ),
    ).toEqual({
      type: 'object',
      properties: {
        word: { type: 'string', maxLength: 10, description: 'the word' },
        kind: { enum: ['noun', 'verb'] },
        tags: { type: 'array', items: { type: 'string' }, maxItems: 3 },
        note: { type: ['string', 'null'] },
      },
      additionalProperties: false,
    });
  });

  it('allows other properties only where the schema declares none', () => {
    expect(grammarSchema({ type: 'object' }, AT)).toMatchObject({ additionalProperties: true });
    expect(
      grammarSchema({ type: 'object', properties: { a: { type: 'integer' } } }, AT),
    ).toMatchObject({ additionalProperties: false });
    expect(
      grammarSchema(
        { type: 'object', properties: {}, additionalProperties: { type: 'number' } },
        AT,
      ),
    ).toMatchObject({ additionalProperties: { type: 'number' } });
  });

  it('turns anyOf into oneOf and moves definitions to $defs', () => {
    expect(
      grammarSchema(
        {
          type: 'object',
          properties: { a: { anyOf: [{ $ref: '#/definitions/n' }, { type: 'null' }] } },
          definitions: { n: { type: 'integer' } },
        },
        AT,
      ),
    ).toEqual({
      type: 'object',
      properties: { a: { oneOf: [{ $ref: '#/$defs/n' }, { type: 'null' }] } },
      additionalProperties: false,
      $defs: { n: { type: 'integer' } },
    });
  });

  it('splits a string with limits from the other types it may be', () => {
    expect(grammarSchema({ type: ['string', 'null'], maxLength: 4 }, AT)).toEqual({
      oneOf: [{ type: 'string', maxLength: 4 }, { type: 'null' }],
    });
    expect(grammarSchema({ type: 'string', format: 'date' }, AT)).toEqual({
      type: 'string',
      format: 'date',
    });
  });

  it('refuses a keyword the grammar cannot enforce, naming its path', () => {
    expect(refusal({ type: 'object', properties: { n: { type: 'integer', minimum: 0 } } })).toEqual(
      {
        param: `${AT}.properties.n.minimum`,
        issue: `The local model's grammar cannot enforce "minimum"`,
      },
    );
    expect(refusal({ type: 'string', pattern: '^a' }).param).toBe(`${AT}.pattern`);
    expect(refusal({ allOf: [{ type: 'string' }] }).param).toBe(`${AT}.allOf`);
    expect(refusal({ type: 'string', format: 'email' }).param).toBe(`${AT}.format`);
    expect(refusal({ type: 'array', uniqueItems: true }).param).toBe(`${AT}.uniqueItems`);
    expect(refusal({ $ref: 'https://example.com/schema' }).param).toBe(`${AT}.$ref`);
    expect(refusal({ oneOf: [{ type: 'string' }], maxLength: 3 }).param).toBe(`${AT}.maxLength`);
  });

  it('refuses what is not a JSON Schema object', () => {
    expect(refusal('object').param).toBe(AT);
    expect(refusal([{ type: 'string' }]).param).toBe(AT);
    expect(refusal(false).param).toBe(AT);
    expect(refusal({ type: 'strnig' }).param).toBe(`${AT}.type`);
    expect(refusal({ enum: [] }).param).toBe(`${AT}.enum`);
    expect(refusal({ type: 'string', maxLength: -1 }).param).toBe(`${AT}.maxLength`);
  });
});

const body = (fields: Record<string, unknown>) =>
  ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...fields }) as ChatCompletionBody;
const TOOL = {
  type: 'function' as const,
  function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } },
};
const OTHER = { type: 'function' as const, function: { name: 'g' } };

describe('replyPlan', () => {
  it('is text, or JSON for response_format', () => {
    expect(replyPlan(undefined)).toEqual({ kind: 'text' });
    expect(replyPlan(body({ response_format: { type: 'text' } }))).toEqual({ kind: 'text' });
    expect(replyPlan(body({ response_format: { type: 'json_object' } }))).toEqual({
      kind: 'json',
      answer: { type: 'object', additionalProperties: true },
    });
    expect(
      replyPlan(
        body({
          response_format: {
            type: 'json_schema',
            json_schema: { name: 'x', schema: { type: 'boolean' } },
          },
        }),
      ),
    ).toEqual({ kind: 'json', answer: { type: 'boolean' } });
  });

  it('forces a call for required and a named tool, offers one for auto, none for none', () => {
    const call = (name: string, args: object) => ({
      type: 'object',
      properties: { name: { const: name }, arguments: args },
    });
    const fArgs = {
      type: 'object',
      properties: { a: { type: 'string' } },
      additionalProperties: false,
    };
    const gArgs = { type: 'object', properties: {}, additionalProperties: false };
    expect(replyPlan(body({ tools: [TOOL, OTHER], tool_choice: 'required' }))).toEqual({
      kind: 'call',
      call: { oneOf: [call('f', fArgs), call('g', gArgs)] },
    });
    expect(
      replyPlan(
        body({ tools: [TOOL, OTHER], tool_choice: { type: 'function', function: { name: 'g' } } }),
      ),
    ).toEqual({ kind: 'call', call: call('g', gArgs) });
    expect(replyPlan(body({ tools: [TOOL] }))).toEqual({
      kind: 'textOrCall',
      call: call('f', fArgs),
    });
    expect(
      replyPlan(body({ tools: [TOOL], response_format: { type: 'json_object' } })),
    ).toMatchObject({
      kind: 'jsonOrCall',
    });
    expect(replyPlan(body({ tools: [TOOL], tool_choice: 'none' }))).toEqual({ kind: 'text' });
  });

  it('names the tool whose parameters the grammar cannot enforce', () => {
    const bad = {
      type: 'function',
      function: { name: 'h', parameters: { type: 'object', not: {} } },
    };
    expect(() => replyPlan(body({ tools: [TOOL, bad] }))).toThrow(
      expect.objectContaining({ param: 'tools[1].function.parameters.not' }),
    );
  });
});

describe('jsonRules', () => {
  it('renames the root and ends the grammar where the JSON ends', () => {
    const gbnf = 'root ::= rule0 "\\n\\n\\n\\n" [\\n]*\nrule0 ::= "true" | "false"';
    expect(jsonRules(gbnf, 'gateway-json')).toBe(
      'gateway-json ::= rule0\nrule0 ::= "true" | "false"',
    );
  });

  it('fails loudly on a grammar of another shape', () => {
    expect(() => jsonRules('root ::= "x"', 'gateway-json')).toThrow(/unexpected shape/);
  });
});
