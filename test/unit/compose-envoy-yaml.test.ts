// envoy/envoy.yaml is generated: it must be exactly what the renderer makes of
// deploy/gateway.yaml today, so compose and the tests run one configuration.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMPOSE, composeSettings, renderComposeEnvoyYaml } from '../../envoy/compose.ts';
import { formatAddress } from '../../processor/config/address.ts';

describe('envoy/envoy.yaml', () => {
  it('is what `npm run render:envoy` renders from deploy/gateway.yaml (run it if this fails)', () => {
    expect(readFileSync(COMPOSE.envoyYaml, 'utf8')).toBe(renderComposeEnvoyYaml());
  });

  it('dials the processor at its compose service name and reaches api.anthropic.com over TLS', () => {
    const config = parse(readFileSync(COMPOSE.envoyYaml, 'utf8')) as {
      static_resources: { clusters: Array<Record<string, unknown>> };
    };
    const clusters = new Map(config.static_resources.clusters.map((c) => [c.name, c]));
    expect(JSON.stringify(clusters.get('ext_proc_processor'))).toContain(
      '"socket_address":{"address":"processor","port_value":50051}',
    );
    expect(clusters.get('ext_proc_processor')?.type).toBe('STRICT_DNS');
    const upstream = JSON.stringify(clusters.get('anthropic_upstream'));
    expect(upstream).toContain('"socket_address":{"address":"api.anthropic.com","port_value":443}');
    expect(upstream).toContain('"sni":"api.anthropic.com"');
  });

  it('takes the settings of deploy/gateway.yaml, with the processor at its service name', () => {
    const settings = composeSettings();
    expect(formatAddress(settings.processor.address)).toBe('processor:50051');
    expect(settings.upstream.url).toBe('https://api.anthropic.com');
    expect(settings.listen.port).toBe(8080);
  });
});
