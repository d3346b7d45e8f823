# syntax=docker/dockerfile:1
# Pixelfind: one image for every role, chosen by the command (api, worker, shard-server, cli,
# migrate; see infra/container/entrypoint.sh). Debian 12, Node 20, FAISS built for AVX2 with
# infra/scripts/build-faiss.sh, the native addon, the compiled dist/ and production dependencies
# only; runs as an unprivileged user under tini. docs/deploy.md; `npm run image:test` builds and
# checks it here (podman, a debootstrap base, Node from the npm registry).
#
#   docker build -t pixelfind:latest .                  # online: debian and node images from a registry
#   npm run image:test                                  # offline here: local base and node images
#
# DEBIAN_IMAGE  the Debian 12 base (default debian:bookworm-slim)
# NODE_IMAGE    where node, npm and Node's headers come from, laid out as the official image lays them
#               out (/usr/local/bin/node, /usr/local/lib/node_modules/npm, /usr/local/include/node)
# PIXELFIND_FAISS_GENERIC=1  Debian's generic libfaiss instead of the AVX2 build (CPUs without AVX2)
ARG DEBIAN_IMAGE=debian:bookworm-slim
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS node

# ---- compilers, FAISS's libraries and Node: what the build stages share
FROM ${DEBIAN_IMAGE} AS build-base
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -q \
  && apt-get install -y -q --no-install-recommends ca-certificates g++ make cmake python3 pkg-config \
     dpkg-dev patch libopenblas-dev liblapack-dev libfaiss-dev libgomp1 \
  && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
COPY --from=node /usr/local/include/node /usr/local/include/node
RUN ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
  && ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
# node-gyp builds against the headers above (nothing downloaded); onnxruntime-node fetches no CUDA
ENV npm_config_nodedir=/usr/local npm_config_update_notifier=false npm_config_fund=false \
    npm_config_audit=false ONNXRUNTIME_NODE_INSTALL=skip

# ---- FAISS 1.7.3 with our patches, for AVX2 (the project's own script). A finished build bind-
# mounted at /faiss-seed (podman build -v ~/.cache/pixelfind/faiss-avx2:/faiss-seed:ro, as
# image:test does) is taken when its stamp matches the current patches; otherwise it compiles.
FROM build-base AS faiss
ARG PIXELFIND_FAISS_GENERIC=0
ENV PIXELFIND_FAISS_PREFIX=/opt/faiss-avx2 PIXELFIND_FAISS_GENERIC=${PIXELFIND_FAISS_GENERIC}
WORKDIR /src
COPY infra/scripts/build-faiss.sh infra/scripts/build-faiss.sh
COPY infra/faiss-patches infra/faiss-patches
RUN mkdir -p "$PIXELFIND_FAISS_PREFIX" \
  && if [ -f /faiss-seed/lib/libfaiss_avx2.a ]; then \
       cp -a /faiss-seed/lib /faiss-seed/include "$PIXELFIND_FAISS_PREFIX"/ \
       && cp -a /faiss-seed/.built-faiss-* "$PIXELFIND_FAISS_PREFIX"/ 2>/dev/null || true; \
     fi \
  && bash infra/scripts/build-faiss.sh \
  && rm -rf "$PIXELFIND_FAISS_PREFIX/src" "$PIXELFIND_FAISS_PREFIX/build" /var/lib/apt/lists/*

# ---- production dependencies only (install scripts run: sharp, onnxruntime-node)
FROM build-base AS prod-deps
# a CA bundle for npm behind a TLS-inspecting proxy: a path bind-mounted into the build (image-build.sh
# does so with the host's bundle); a build argument, so it is not in the image's environment
ARG npm_config_cafile
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev && npm cache clean --force
# never loaded at run time (about 490 MB): tfjs, nsfwjs' peer dependency (only nsfwjs' model files
# are read, to convert them to ONNX), and onnxruntime's binaries for other platforms
RUN rm -rf node_modules/@tensorflow \
  && find node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 -type d ! -name linux -exec rm -rf {} + \
  && find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -type d -path '*/linux/*' ! -name x64 -exec rm -rf {} +

# ---- the addon, dist/, the web app and the tiny test model, with the dev dependencies
FROM build-base AS build
ARG PIXELFIND_FAISS_GENERIC=0
ARG npm_config_cafile
ENV PIXELFIND_FAISS_PREFIX=/opt/faiss-avx2 PIXELFIND_FAISS_GENERIC=${PIXELFIND_FAISS_GENERIC}
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# no install scripts: nothing here runs the dev dependencies' native parts (tsc, node-gyp, vite, tsx)
RUN npm ci --ignore-scripts && npm cache clean --force
COPY --from=faiss /opt/faiss-avx2 /opt/faiss-avx2
# only what the build reads, so editing docs, manifests or this file keeps the layers below cached
COPY tsconfig.json tsconfig.build.json ./
COPY schema schema
COPY search-cluster search-cluster
COPY api api
COPY infra/scripts/download-model.ts infra/scripts/copy-build-assets.mjs infra/scripts/
COPY test/fixtures test/fixtures
RUN npm run build:native \
  && node search-cluster/native/faiss-config.mjs describe \
  && npm run build \
  && npm run build:web \
  && node --import tsx test/fixtures/tiny-clip/generate.ts

# ---- what runs
FROM ${DEBIAN_IMAGE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -q \
  && apt-get install -y -q --no-install-recommends ca-certificates tini libopenblas0 liblapack3 libgomp1 \
  && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN groupadd --system --gid 10001 pixelfind \
  && useradd --system --uid 10001 --gid pixelfind --home-dir /app --no-create-home \
     --shell /usr/sbin/nologin pixelfind \
  && mkdir -p /data && chown pixelfind:pixelfind /data
WORKDIR /app
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=build /app/package.json package.json
COPY --from=build /app/dist dist
COPY --from=build /app/schema schema
COPY --from=build /app/search-cluster/native/build/Release/pixelfind_faiss.node search-cluster/native/build/Release/pixelfind_faiss.node
COPY --from=build /app/api/web/dist api/web/dist
COPY --from=build /app/test/fixtures/generated/tiny-clip test/fixtures/generated/tiny-clip
COPY infra/container/entrypoint.sh infra/container/healthcheck.mjs infra/container/
# HOST: every role listens beyond loopback in a container (a shard server then needs SHARD_AUTH_TOKEN)
ENV NODE_ENV=production DATA_DIR=/data HOST=0.0.0.0
USER 10001:10001
VOLUME ["/data"]
# API (PORT), worker (WORKER_PORT), shard server (PORT)
EXPOSE 4000 4100 7001
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "/app/infra/container/healthcheck.mjs"]
ENTRYPOINT ["/usr/bin/tini", "--", "/app/infra/container/entrypoint.sh"]
CMD ["api"]
