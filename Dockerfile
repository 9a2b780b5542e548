# The bluegreen worker (and CLI). Secrets are mounted at run time, never copied in.
FROM node:20-bookworm-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY bin ./bin
COPY scripts ./scripts
USER node
CMD ["npx", "tsx", "src/worker.ts"]
