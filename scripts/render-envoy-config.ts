// `npm run render:envoy`: writes envoy/envoy.yaml, the compose stack's Envoy
// configuration, from deploy/gateway.yaml (see envoy/compose.ts).
import { writeFileSync } from 'node:fs';
import { COMPOSE, renderComposeEnvoyYaml } from '../envoy/compose.ts';

writeFileSync(COMPOSE.envoyYaml, renderComposeEnvoyYaml());
process.stdout.write(`wrote ${COMPOSE.envoyYaml}\n`);
