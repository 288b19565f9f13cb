# syntax=docker/dockerfile:1
# Multi-stage: build with dev dependencies, run with production ones only, as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# package.json overrides point node-llama-cpp's unused platform binaries at this empty package.
COPY tools/npm ./tools/npm
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY tools ./tools
COPY openapi ./openapi
COPY src ./src
COPY models ./models
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/var/lib/inference-api
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN useradd --system --uid 10001 inference && mkdir -p /var/lib/inference-api \
    && chown inference /var/lib/inference-api
USER inference
EXPOSE 8000 9464
# /healthz is liveness only; point the load balancer's readiness check at /readyz.
HEALTHCHECK --interval=10s --timeout=2s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# exec form: SIGTERM reaches node directly, which drains in-flight requests before exiting.
CMD ["node", "dist/src/main.js"]
