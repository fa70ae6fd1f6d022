# syntax=docker/dockerfile:1

# ---- build: full dependency set, TypeScript → dist/ ------------------------------------------------------------
# The Kit sandbox workspace package (packages/kit-sandbox) is built here only because the app's build references
# its type declarations; none of it reaches the runtime stage.
# Node 24: the active LTS (22 is in maintenance); the code itself keeps running on Node 20 and later (engines).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/kit-sandbox/package.json ./packages/kit-sandbox/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY packages ./packages
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and dist/ only, as the unprivileged "node" user ---------------------------
# --omit=dev leaves out the Kit sandbox (a development dependency): without a Kit credential the server stops
# with one line saying so instead of starting the built-in sandbox.
FROM node:24-slim AS runtime
# DATA_DIR, not KIT_TOKEN_STORE: a tenant's own setting would be refused beside TENANTS_FILE, and every file the
# server writes (rotated OAuth tokens, each tenant's, generated event-signing keys, a relative AUDIT_LOG) defaults
# under DATA_DIR.
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force
COPY --from=build /app/dist ./dist
# The shipped attribute mappings (SCIM_MAPPING_FILE=mapping/entra-validator.yaml, or a file mounted elsewhere).
COPY mapping ./mapping
# The application files stay root-owned (read-only to the server); only /app/data (DATA_DIR) is writable. Mount a
# volume there to keep what it holds across restarts.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
# node:24-slim has no curl: probe /healthz with node's own http client. The start period covers the start-up
# checks against Kit (credentials, reserved custom fields), which run before the server listens.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "require('http').get({host:'127.0.0.1',port:process.env.PORT||8080,path:'/healthz',timeout:4000},r=>process.exit(r.statusCode===200?0:1)).on('timeout',()=>process.exit(1)).on('error',()=>process.exit(1))"]
# Node is PID 1: the server handles SIGTERM/SIGINT itself (graceful shutdown within SHUTDOWN_TIMEOUT_MS).
# Same V8 heap cap as `npm start`: the server keeps little live data; without a cap V8 grows the heap lazily
# on large hosts (bench/reconcile measures the process run this way).
CMD ["node", "--max-old-space-size=192", "dist/app/main.js"]
