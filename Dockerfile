# The processor's image: Node.js 24 (slim), production dependencies only, run
# as the unprivileged `node` user. Envoy runs beside it from its official image
# (docker-compose.yml). No secret is ever built in: the Anthropic key and the
# gateway tokens come from the environment or mounted files at run time.
FROM node:24-slim

WORKDIR /app
ENV NODE_ENV=production

# --omit=dev: no test tools, type checker or linter in the image.
# --ignore-scripts: the project's postinstall (scripts/setup.sh) installs the
# tests' Envoy and Python SDK and generates proto types, which only the type
# checker reads; the processor loads Envoy's protos at run time from
# @grpc/grpc-js-xds. `npm ci`: exactly the lock.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# TypeScript runs as is (Node.js type stripping): the sources are the program.
COPY processor ./processor
COPY protos/index.ts ./protos/index.ts

USER node
# Listen on every interface of the container; Envoy dials processor:50051.
ENV GATEWAY_PROCESSOR_ADDRESS=0.0.0.0:50051
EXPOSE 50051

# Asks the processor's grpc.health.v1 service: SERVING from the moment
# ext_proc listens, NOT_SERVING once a shutdown begins.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "processor/health/healthcheck.ts"]

# SIGTERM (docker stop) drains: requests being decided finish, then exit 0.
# SIGHUP (docker kill -s HUP) reloads the configuration. The container is the
# processor alone, without npm start's launcher: Docker restarts it when it
# dies (docker-compose.yml's restart policy), and no setpriv is needed here.
STOPSIGNAL SIGTERM
CMD ["node", "processor/main.ts"]
