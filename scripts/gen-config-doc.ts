// `npm run gen:config-doc`: writes docs/configuration.md from the schema (scripts/config-reference.ts).
import { writeFileSync } from 'node:fs';
import { CONFIGURATION_DOC, renderConfigurationReference } from './config-reference.ts';

writeFileSync(CONFIGURATION_DOC, renderConfigurationReference());
process.stdout.write(`wrote ${CONFIGURATION_DOC}\n`);
