import { describe, expect, it } from 'vitest';
import { tuneGarbageCollection } from '../../processor/runtime/garbage-collection.ts';

describe('tuneGarbageCollection', () => {
  it('applies on the V8 this project runs on, the one the setting was measured on', () => {
    // A Node.js upgrade that changes V8's major version fails here: measure
    // the setting again (docs/benchmarks.md) before moving MEASURED_V8_MAJOR.
    expect(tuneGarbageCollection()).toBe(true);
  });

  it('leaves another V8 alone, where the flag may not exist', () => {
    expect(tuneGarbageCollection('14.8.1.0')).toBe(false);
    expect(tuneGarbageCollection('12.4.254.21-node.33')).toBe(false);
    expect(tuneGarbageCollection('')).toBe(false);
  });
});
