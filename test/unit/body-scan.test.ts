// The processor's body scan in slices (processor/policy/body-scan.ts): small
// and quick bodies are decided at once; a big body that needs many slices
// lets other work run between them, gives the same verdict as one whole
// scan, and stops when nobody waits for it any more.
import { setImmediate } from 'node:timers';
import { describe, expect, it } from 'vitest';
import { messagesBody } from '../../bench/lib/bodies.ts';
import { hostileShape } from '../../bench/lib/hostile-shapes.ts';
import { SCAN_SLICE_BYTES, scanBody } from '../../processor/policy/body-scan.ts';
import { scanModel } from '../../processor/policy/model-scanner.ts';
import { settleTurn } from '../support/same-turn.ts';

const never = () => false;

describe('scanBody', () => {
  it('decides a body of up to one slice at once', async () => {
    const body = hostileShape('numbers').build(SCAN_SLICE_BYTES);
    const { value, atOnce } = await settleTurn(() => scanBody(body, {}, never));
    expect(value).toEqual({ ok: true, model: 'claude-sonnet-4-6' });
    expect(atOnce).toBe(true);
  });

  it('reads plain text whole: a body that is mostly one 8 MiB prompt takes a slice or two', async () => {
    const body = messagesBody(8 * SCAN_SLICE_BYTES);
    let slices = 1;
    const verdict = await scanBody(body, {}, () => {
      slices += 1;
      return false;
    });
    expect(verdict).toEqual({ ok: true, model: 'claude-sonnet-4-6' });
    expect(slices).toBeLessThanOrEqual(2);
  });

  it('stops at the escapes of a long string: 8 MiB of \\n takes about 8 slices', async () => {
    const body = hostileShape('short-escapes').build(8 * SCAN_SLICE_BYTES);
    let slices = 1;
    const verdict = await scanBody(body, {}, () => {
      slices += 1;
      return false;
    });
    expect(verdict).toEqual({ ok: true, model: 'claude-sonnet-4-6' });
    expect(slices).toBeGreaterThanOrEqual(7);
  });

  it('scans a big structured body a slice per turn, letting other work run in between', async () => {
    const body = hostileShape('deep-mixed').build(8 * 1024 * 1024);
    let turns = 0;
    let done = false;
    const count = () => {
      if (done) return;
      turns += 1;
      setImmediate(count);
    };
    setImmediate(count);
    const { value: verdict, atOnce } = await settleTurn(() => scanBody(body, {}, never));
    expect(atOnce).toBe(false);
    done = true;
    expect(verdict).toEqual(scanModel(body));
    // Other callbacks ran between the slices: about one per slice of 1 MiB.
    expect(turns).toBeGreaterThanOrEqual(4);
  });

  it('gives the same verdict as one whole scan for every shape', async () => {
    for (const name of ['deep-arrays-unclosed', 'tiny-keys', 'duplicate-models', 'escaped-model']) {
      const body = hostileShape(name).build(4 * 1024 * 1024);
      expect(await scanBody(body, { maxModelBytes: 126 }, never), name).toEqual(
        scanModel(body, { maxModelBytes: 126 }),
      );
    }
  });

  it('stops, and gives no verdict, once nobody waits for it', async () => {
    const body = hostileShape('deep-arrays').build(8 * 1024 * 1024);
    let slices = 0;
    const verdict = await scanBody(body, {}, () => {
      slices += 1;
      return slices > 2;
    });
    expect(verdict).toBeUndefined();
    expect(slices).toBe(3);
  });
});
