# syntax=docker/dockerfile:1
# Rivulet's container image: one static binary on a minimal non-root base.
#
#   docker build -t rivulet:0.1.0 .          (or: podman build / buildah bud)
#   docker run --rm -p 5000:5000 -p 4317:4317 -v rivulet-data:/mlflow rivulet:0.1.0
#
# Stage 1 links the binary statically against glibc (static-pie, `+crt-static`) for the
# architecture the build runs on (x86_64 or aarch64; `docker buildx build --platform
# linux/arm64` builds under emulation). glibc rather than musl: its allocator is the one the
# resource figures in docs/kubernetes.md were measured with, and tests/deploy/run.sh builds and
# runs exactly this kind of binary in an image FROM scratch (musl's target cannot be installed
# offline there). Since glibc 2.34 the `files` and `dns` name-service modules are inside libc,
# so host names (PostgreSQL, S3, *.svc.cluster.local) resolve without any shared library.
# Stage 2 is distroless/static: CA certificates (for S3 over TLS), tzdata, /etc/passwd and
# /etc/nsswitch.conf, the `nonroot` user (65532), no shell. The UI's assets are compiled in.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# The image has everything the build needs: gcc for the C parts (SQLite, aws-lc), binutils.
FROM docker.io/library/rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
# The same command tests/deploy/run.sh runs (DEPLOY_STATIC_BUILD=1). The binary is stripped of
# its line tables (about 120 MB down to about 23 MB); the last check fails the build if it
# came out dynamically linked after all.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(uname -m)-unknown-linux-gnu" \
 && RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked -p rivulet --target "$target" \
 && mkdir -p /out/mlflow \
 && strip -o /out/rivulet "target/$target/release/rivulet" \
 && ldd /out/rivulet 2>&1 | grep -Eq 'statically linked|not a dynamic executable'

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="rivulet" \
      org.opencontainers.image.description="An MLflow-compatible tracking server and LLM trace viewer in one binary" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/rivulet /usr/local/bin/rivulet
# The data directory (the Kubernetes base mounts its volume here), owned by nonroot so that a
# plain `docker run` without a volume works too.
COPY --from=build --chown=65532:65532 /out/mlflow /mlflow
USER 65532:65532
WORKDIR /mlflow
EXPOSE 5000 4317
ENV MLFLOW_BACKEND_STORE_URI=sqlite:////mlflow/mlflow.db \
    MLFLOW_ARTIFACTS_DESTINATION=/mlflow/artifacts
ENTRYPOINT ["/usr/local/bin/rivulet"]
CMD ["server", "--host=0.0.0.0", "--port=5000"]
