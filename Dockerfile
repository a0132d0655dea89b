# syntax=docker/dockerfile:1
# The Outrigger image: one binary, `outrigger controller`, `outrigger injector` and `outrigger sentry` (the chart
# passes the subcommand as the first argument).
#
#   docker build -t ghcr.io/outrigger-dev/outrigger:$(node -p 'require("./package.json").version') .
#
# Runs as uid 65532 on a read-only root filesystem: nothing is written at run time.

ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# Compile TypeScript to dist/ with the dev dependencies (typescript).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the "node" dev dependency would download a second Node; the image has one.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The image's own node, not npx: with --ignore-scripts the "node" package's bin is not set up.
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

# Production dependencies only, resolved from the lockfile.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Distroless: Node 24 and its runtime libraries, no shell, no package manager.
FROM ${RUNTIME_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
COPY --chown=0:0 package.json ./
# src/apis resolves crds/ next to dist/ (the CRD schemas the validator reads).
COPY --chown=0:0 crds ./crds
# src/sentry loads the Sentry gRPC API from proto/ next to dist/.
COPY --chown=0:0 proto ./proto
# Files owned by root and not writable by the runtime user; numeric so that
# runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080 8081 8443
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cli.js"]
CMD ["--help"]
