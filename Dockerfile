# syntax=docker/dockerfile:1
# aigis in a container: a static (musl) binary on a distroless base, run as a non-root user.
#   docker build -t aigis .
#   docker run --rm -v "$PWD:/src:ro" aigis scan /src
# The binary is built with the release profile of the release workflow (`dist`). The final
# image holds the binary, CA certificates (for buckets and the Hugging Face Hub) and nothing
# else: no shell, no package manager.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-alpine AS build
# A C compiler and musl headers for the one C dependency (aws-lc, behind rustls).
# hadolint ignore=DL3018
RUN apk add --no-cache gcc musl-dev
WORKDIR /build
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
# On Alpine the host target is musl, which links statically by default.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    cargo build --locked --profile dist -p aigis-cli \
    && cp target/dist/aigis /usr/local/bin/aigis \
    && /usr/local/bin/aigis --version

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="aigis" \
      org.opencontainers.image.description="Static scanner for AI model files: what loading a model would do, without loading it" \
      org.opencontainers.image.source="https://github.com/aigis-dev/aigis" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /usr/local/bin/aigis /usr/local/bin/aigis
# distroless's nonroot user; files to scan must be readable by it.
USER 65532:65532
WORKDIR /src
ENTRYPOINT ["/usr/local/bin/aigis"]
CMD ["--help"]
