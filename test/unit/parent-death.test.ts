import { describe, expect, it } from 'vitest';
import { parentDeathWrapper } from '../../scripts/parent-death.ts';

describe("Envoy's parent-death signal (setpriv)", () => {
  it('runs Envoy through setpriv --pdeathsig SIGTERM when PATH has it', () => {
    const found = parentDeathWrapper({ PATH: '/nonexistent:/usr/bin:/bin' });
    expect(found).toEqual({ wrapper: ['/usr/bin/setpriv', '--pdeathsig', 'SIGTERM', '--'] });
  });

  it('without setpriv, says what is at stake rather than failing', () => {
    const missing = parentDeathWrapper({ PATH: '/nonexistent' });
    expect(missing.wrapper).toBeUndefined();
    expect(missing).toMatchObject({
      warning: expect.stringContaining('killed with SIGKILL, Envoy keeps running'),
    });
  });
});
