import { describe, expect, it } from 'vitest';
import { renderBootstrap } from '../../envoy/bootstrap/index.ts';
import { buildConfig, type Settings } from '../../processor/config/load.ts';
import { EXT_PROC_SERVICE } from '../../processor/contract/names.ts';

function settings(processorAddress: string): Settings {
  const result = buildConfig(
    { processor: { address: processorAddress } },
    { ANTHROPIC_API_KEY: 'sk-ant-test', GATEWAY_TOKEN: 'agw_test' },
  );
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config.settings;
}

interface Cluster {
  name: string;
  type: string;
  dns_lookup_family?: string;
  health_checks?: Array<Record<string, unknown>>;
}

function processorCluster(address: string): Cluster {
  const bootstrap = renderBootstrap(settings(address)) as {
    static_resources: { clusters: Cluster[] };
  };
  const cluster = bootstrap.static_resources.clusters.find((c) => c.name === 'ext_proc_processor');
  if (cluster === undefined) throw new Error('no processor cluster');
  return cluster;
}

describe('renderBootstrap: the processor cluster', () => {
  it('health-checks the processor over grpc.health.v1, asking about ext_proc', () => {
    const [check] = processorCluster('127.0.0.1:50051').health_checks ?? [];
    expect(check).toMatchObject({
      grpc_health_check: { service_name: EXT_PROC_SERVICE },
      unhealthy_threshold: 2,
      healthy_threshold: 1,
    });
    // A processor that is down is probed again quickly, and an idle cluster is probed at all.
    expect(check?.unhealthy_interval).toBe('1s');
    expect(check?.no_traffic_interval).toBe('5s');
  });

  it('resolves a host name to every replica (STRICT_DNS), and uses an IP or a socket as is', () => {
    expect(processorCluster('processor:50051')).toMatchObject({
      type: 'STRICT_DNS',
      dns_lookup_family: 'V4_PREFERRED',
    });
    expect(processorCluster('127.0.0.1:50051').type).toBe('STATIC');
    expect(processorCluster('[::1]:50051').type).toBe('STATIC');
    expect(processorCluster('unix:/run/gateway/processor.sock').type).toBe('STATIC');
  });
});
