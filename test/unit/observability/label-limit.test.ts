import { describe, expect, it } from 'vitest';
import { LabelLimit, OVERFLOW_LABEL } from '../../../src/observability/label-limit.js';

describe('LabelLimit', () => {
  it('keeps the first values seen and maps every later one to "other"', () => {
    const limit = new LabelLimit(2);
    expect(limit.value('org_a')).toBe('org_a');
    expect(limit.value('org_b')).toBe('org_b');
    expect(limit.value('org_c')).toBe(OVERFLOW_LABEL);
    expect(limit.value('org_d')).toBe(OVERFLOW_LABEL);
  });

  it('keeps a value it has already kept, after the cap is reached', () => {
    const limit = new LabelLimit(1);
    limit.value('org_a');
    limit.value('org_b');
    expect(limit.value('org_a')).toBe('org_a');
    expect(limit.value('org_b')).toBe(OVERFLOW_LABEL);
  });

  it('refuses a cap that is not a non-negative integer', () => {
    expect(() => new LabelLimit(-1)).toThrow(RangeError);
    expect(() => new LabelLimit(1.5)).toThrow(RangeError);
  });
});
