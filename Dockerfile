# The exporter image: TypeScript compiled in a build stage, run by Node 24 (the current LTS) as a non-root user.
# docker compose builds it (docker-compose.yml); k8s/ runs it with a read-only root filesystem.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# files stay owned by root: the process can read them, never rewrite them
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
# npm run build also copies the live page's static files to dist/page
COPY --from=build /app/dist ./dist
# uid 1000, the `node` user of the base image; k8s/ pins the same uid
USER node
# 9477: metrics, ingest and the live page; 4318 and 4317: OTLP/HTTP and OTLP/gRPC when an otlp source listens there
EXPOSE 9477 4318 4317
# the V8 flags of src/util/node-flags.ts: a bounded young generation and heap growth
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=30", "--no-allocation-site-pretenuring", "dist/cli.js"]
CMD ["serve"]
