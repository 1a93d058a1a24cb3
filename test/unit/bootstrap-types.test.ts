// The bootstrap is typed by the types generated from Envoy's protos
// (scripts/gen-bootstrap-types.ts): a misspelt field, or a field of the wrong
// message inside a typed_config, fails `tsc` (each @ts-expect-error below must
// have an error to expect, or tsc fails on it). That the rendered bootstrap
// is one Envoy accepts is `envoy --mode validate`'s to say
// (test/e2e/integration-snippets.test.ts).
import { describe, expect, it } from 'vitest';
import { typed } from '../../envoy/bootstrap/common.ts';
import { renderBootstrap } from '../../envoy/bootstrap/index.ts';
import type { Bootstrap, Cluster, HttpFilter } from '../../envoy/bootstrap/types.ts';
import { buildConfig } from '../../processor/config/load.ts';

describe('the bootstrap types', () => {
  it('refuse a misspelt field, a value of the wrong type and a typed_config of the wrong message', () => {
    const cluster: Cluster = {
      name: 'c',
      connect_timeout: '1s',
      // @ts-expect-error: Envoy's field is connect_timeout
      connect_timout: '1s',
    };
    const wrongType: Cluster = {
      // @ts-expect-error: a Duration is a string in JSON
      connect_timeout: 1,
    };
    const filter: HttpFilter = {
      name: 'envoy.filters.http.router',
      typed_config: typed('envoy.extensions.filters.http.router.v3.Router', {
        // @ts-expect-error: the Router has suppress_envoy_headers
        suppress_envoy_header: true,
      }),
    };
    const enumValue: Cluster = {
      // @ts-expect-error: not one of the DiscoveryType values
      type: 'STATIK',
    };
    expect([cluster, wrongType, filter, enumValue]).toHaveLength(4);
  });

  it("type the rendered bootstrap as Envoy's Bootstrap", () => {
    const result = buildConfig({}, { ANTHROPIC_API_KEY: 'sk-ant-test', GATEWAY_TOKEN: 'agw_test' });
    if (!result.ok) throw new Error(result.problems.join('; '));
    const bootstrap: Bootstrap = renderBootstrap(result.config.settings);
    expect(bootstrap.static_resources?.clusters?.map((cluster) => cluster.name)).toEqual([
      'anthropic_upstream',
      'ext_proc_processor',
      'processor_access_log',
    ]);
  });
});
