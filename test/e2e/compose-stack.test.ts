// The docker compose stack itself, with testcontainers: the processor image is
// built from the Dockerfile, Envoy runs from its official image, and requests
// go through the published port. It needs a Docker engine: where there is
// none (our development machines and CI), the test is reported as skipped,
// with the reason. Requests that would be forwarded are never sent: the
// stack's upstream is the real api.anthropic.com.
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import {
  DockerComposeEnvironment,
  getContainerRuntimeClient,
  type StartedDockerComposeEnvironment,
  Wait,
} from 'testcontainers';
import { afterAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../processor/policy/tokens.ts';
import { seedRequest } from '../support/gateway-stack.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BUILD_AND_RUN_TIMEOUT_MS = 15 * 60_000;

async function dockerEngine(): Promise<string | undefined> {
  try {
    await getContainerRuntimeClient();
    return undefined;
  } catch (error) {
    return `no Docker engine on this machine (${(error as Error).message})`;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise((done) => server.close(done));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const noEngine = await dockerEngine();
let environment: StartedDockerComposeEnvironment | undefined;
afterAll(async () => {
  await environment?.down();
}, BUILD_AND_RUN_TIMEOUT_MS);

describe('docker compose up (testcontainers)', () => {
  it(
    'serves the gateway: the processor decides through Envoy, is healthy, and its absence fails closed',
    async (context) => {
      if (noEngine !== undefined) {
        context.skip(noEngine);
        return;
      }
      const token = mintToken();
      const port = await freePort();
      environment = await new DockerComposeEnvironment(ROOT, 'docker-compose.yml')
        .withBuild()
        .withEnvironment({
          ANTHROPIC_API_KEY: 'sk-ant-compose-test-not-a-real-key',
          GATEWAY_TOKEN: token,
          GATEWAY_HOST_PORT: String(port),
        })
        .withWaitStrategy('processor-1', Wait.forHealthCheck())
        .withWaitStrategy('envoy-1', Wait.forListeningPorts())
        .up();
      const envoy = environment.getContainer('envoy-1');
      const base = `http://${envoy.getHost()}:${envoy.getMappedPort(8080)}/ai-gateway/anthropic`;
      const post = (headers: Record<string, string>, body: unknown) =>
        fetch(`${base}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        });

      const anonymous = await post({}, seedRequest());
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('request-id')).toBeTruthy();
      expect(await anonymous.json()).toMatchObject({
        type: 'error',
        error: { type: 'authentication_error' },
      });

      const unknownModel = await post({ 'x-api-key': token }, seedRequest('claude-unknown'));
      expect(unknownModel.status).toBe(400);
      expect(await unknownModel.json()).toMatchObject({
        error: { message: expect.stringMatching(/^unknown model: /) },
      });

      const elsewhere = await fetch(`http://${envoy.getHost()}:${envoy.getMappedPort(8080)}/v1/models`);
      expect(elsewhere.status).toBe(404);

      const processor = environment.getContainer('processor-1');
      const health = await processor.exec(['node', 'processor/health/healthcheck.ts']);
      expect(health.exitCode).toBe(0);
      expect(health.output).toContain('SERVING');
      const user = await processor.exec(['id', '-u']);
      expect(user.output.trim()).not.toBe('0');

      // The processor stops (SIGTERM, drained): nothing is forwarded unchecked.
      await processor.stop({ remove: false });
      const unchecked = await post({ 'x-api-key': token }, seedRequest());
      expect(unchecked.status).toBe(503);
      expect(await unchecked.json()).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    },
    BUILD_AND_RUN_TIMEOUT_MS,
  );
});
