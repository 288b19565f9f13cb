import type { ErrorObject } from 'ajv';
import { describe, expect, it } from 'vitest';
import { toDetails } from '../../../src/http/openapi/validator.js';

function error(partial: Partial<ErrorObject>): ErrorObject {
  return {
    keyword: 'type',
    instancePath: '',
    schemaPath: '#',
    params: {},
    ...partial,
  } as ErrorObject;
}

describe('toDetails', () => {
  it('names nested fields the way clients write them', () => {
    expect(
      toDetails(
        [
          error({
            keyword: 'minLength',
            instancePath: '/messages/3/content',
            params: { limit: 1 },
          }),
        ],
        'body',
      ),
    ).toEqual([{ field: 'messages[3].content', issue: 'Must not be empty' }]);
  });

  it('names the missing and the unknown property', () => {
    expect(
      toDetails(
        [
          error({
            keyword: 'required',
            instancePath: '/stream_options',
            params: { missingProperty: 'x' },
          }),
        ],
        'body',
      )[0]?.field,
    ).toBe('stream_options.x');
    expect(
      toDetails(
        [error({ keyword: 'additionalProperties', params: { additionalProperty: 'foo' } })],
        'body',
      )[0]?.field,
    ).toBe('foo');
  });

  it('calls the root by the part of the request it is', () => {
    expect(
      toDetails([error({ keyword: 'type', params: { type: 'object' } })], 'body')[0]?.field,
    ).toBe('body');
  });

  it('describes ranges with both bounds', () => {
    const parentSchema = { type: 'integer', minimum: 1, maximum: 4096 };
    expect(
      toDetails(
        [
          error({
            keyword: 'maximum',
            instancePath: '/max_tokens',
            parentSchema,
            params: { comparison: '<=', limit: 4096 },
          }),
        ],
        'body',
      ),
    ).toEqual([{ field: 'max_tokens', issue: 'Must be between 1 and 4096' }]);
  });

  it('reports an alternation once instead of its branches', () => {
    const details = toDetails(
      [
        error({ keyword: 'type', instancePath: '/stop', params: { type: 'string' } }),
        error({ keyword: 'maxItems', instancePath: '/stop', params: { limit: 4 } }),
        error({ keyword: 'oneOf', instancePath: '/stop', params: {} }),
      ],
      'body',
    );
    expect(details).toEqual([{ field: 'stop', issue: 'Does not match any allowed form' }]);
  });

  it('reports the error inside the branch that matched the form of the value', () => {
    const details = toDetails(
      [
        error({ keyword: 'type', instancePath: '/messages/0/content', params: { type: 'string' } }),
        error({
          keyword: 'pattern',
          instancePath: '/messages/0/content/1/image_url/url',
          params: {},
        }),
        error({ keyword: 'type', instancePath: '/messages/0/content', params: { type: 'null' } }),
        error({ keyword: 'anyOf', instancePath: '/messages/0/content', params: {} }),
      ],
      'body',
    );
    expect(details).toEqual([
      {
        field: 'messages[0].content[1].image_url.url',
        issue: 'Has characters or a form that is not allowed',
      },
    ]);
  });

  it('does not take a wrong type inside another form for the error', () => {
    const details = toDetails(
      [
        error({ keyword: 'type', instancePath: '/input', params: { type: 'string' } }),
        error({ keyword: 'maxItems', instancePath: '/input', params: { limit: 2048 } }),
        error({ keyword: 'type', instancePath: '/input/0', params: { type: 'integer' } }),
        error({ keyword: 'anyOf', instancePath: '/input', params: {} }),
      ],
      'body',
    );
    expect(details).toEqual([{ field: 'input', issue: 'Does not match any allowed form' }]);
  });
});
