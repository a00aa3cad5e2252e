# Tessera node image. Build: docker build -t tessera .   Run: see docker-compose.yml (and
# deploy/kubernetes/tessera.yaml). Multi-stage: build with dev dependencies (`npm run build`: TypeScript and
# the assets it copies into dist/), then ship dist/ with production dependencies only.
# test/deploy/compose.test.ts checks this file against package.json, tsconfig.build.json and the compose file.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# The SDK workspace (@tessera/client): `npm run build` compiles it from src/ into packages/client/dist.
COPY packages/client/package.json packages/client/tsconfig.json ./packages/client/
COPY src ./src
COPY cmd ./cmd
COPY jepsen-lite ./jepsen-lite
COPY proto ./proto
COPY scripts ./scripts
RUN npm ci --ignore-scripts --no-audit --no-fund && npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# node_modules/@tessera/client links to packages/client: the server imports the SDK from there.
COPY --from=build /app/packages/client/dist ./packages/client/dist
COPY --from=build /app/packages/client/proto ./packages/client/proto
COPY --from=build /app/dist ./dist
COPY proto ./proto
# gRPC (client and peer traffic) and HTTP (/metrics, /healthz)
EXPOSE 7001 7101
VOLUME ["/data"]
HEALTHCHECK --interval=5s --timeout=2s --start-period=10s --retries=3 \
  CMD node -e "require('http').get('http://127.0.0.1:7101/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"
ENTRYPOINT ["node", "dist/cmd/tessera.js"]
CMD ["start"]
