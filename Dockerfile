# syntax=docker/dockerfile:1
# Rivulet's container image: a static binary on a minimal non-root base.
#
#   docker build -t rivulet:0.1.0 .          (or: podman build / buildah bud)
#   docker run --rm -p 5000:5000 -p 4317:4317 -v rivulet-data:/mlflow rivulet:0.1.0
#
# Stage 1 builds a fully static binary against musl, for the architecture the build runs on
# (x86_64 or aarch64; `docker buildx build --platform linux/arm64` builds under emulation).
# Stage 2 is distroless/static: CA certificates, tzdata, /etc/passwd with the `nonroot` user
# (65532), no shell, no libc. The UI's assets are compiled into the binary.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM docker.io/library/rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
# musl-gcc for the C parts (SQLite, aws-lc), cmake for aws-lc's build script. musl-gcc only
# searches musl's own include directory, so the kernel headers aws-lc includes are linked in.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools cmake \
 && rm -rf /var/lib/apt/lists/* \
 && musl="/usr/include/$(uname -m)-linux-musl" \
 && for dir in linux asm-generic "$(uname -m)-linux-gnu/asm"; do \
      [ -e "$musl/$(basename "$dir")" ] || ln -s "/usr/include/$dir" "$musl/$(basename "$dir")"; \
    done
RUN rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src
COPY . .
# The last check fails the build if the binary is dynamically linked after all.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(uname -m)-unknown-linux-musl" \
 && cargo build --release --locked -p rivulet --target "$target" \
 && install -D -m 0755 "target/$target/release/rivulet" /out/rivulet \
 && mkdir -p /out/mlflow \
 && ! ldd /out/rivulet 2>/dev/null | grep -q '=>'

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="rivulet" \
      org.opencontainers.image.description="An MLflow-compatible tracking server and LLM trace viewer in one binary" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /out/rivulet /usr/local/bin/rivulet
# The data directory the Kubernetes base mounts a volume on; owned by nonroot so a plain
# `docker run` without a volume works too.
COPY --from=build --chown=65532:65532 /out/mlflow /mlflow
USER 65532:65532
WORKDIR /mlflow
EXPOSE 5000 4317
ENV MLFLOW_BACKEND_STORE_URI=sqlite:////mlflow/mlflow.db \
    MLFLOW_ARTIFACTS_DESTINATION=/mlflow/artifacts
ENTRYPOINT ["/usr/local/bin/rivulet"]
CMD ["server", "--host=0.0.0.0", "--port=5000"]
