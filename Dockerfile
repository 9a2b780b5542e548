# The bluegreen worker and CLI, compiled. `node dist/worker.js` loads the workflow bundle prebuilt by
# `npm run build`: nothing is transpiled or bundled when a container starts (no tsx, no webpack).
# Runs as the non-root `node` user. Secrets (SSH key, known_hosts) are mounted at run time, read-only
# (see docker-compose.yml); none is ever copied into the image.
#
#   docker build -t bluegreen .
#   docker run --rm bluegreen bluegreen plan validate /plans/prod.yaml   # the CLI
#   docker run ... bluegreen                                             # the worker (default)

FROM node:20-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 (used by the lab only) compiles where no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.mjs scripts/write-load-cache.mjs scripts/
COPY bin ./bin
COPY src ./src
# dist/worker.js, dist/cli.js, dist/workflow-bundle.js; then only production dependencies stay, and
# the worker's load cache is written again for that tree (its resolutions hold only for the tree
# they were made in; the runtime stage copies this tree as is, on the same Node image).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund && node scripts/write-load-cache.mjs

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist ./dist
RUN ln -s /app/bin/bluegreen.mjs /usr/local/bin/bluegreen
USER node
# SIGTERM: the worker stops polling and gives running activities 10 s to finish (exit code 0).
STOPSIGNAL SIGTERM
CMD ["node", "dist/worker.js"]
