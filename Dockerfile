# syntax=docker/dockerfile:1
# The agent's image. Reproducible: the Rust toolchains are pinned (stable by
# version, the probes' nightly by date), Cargo.lock is honoured (--locked:
# the build fails rather than resolve anew), build paths are remapped and
# incremental compilation is off. Context: see .dockerignore (no target/).

FROM docker.io/library/rust:1.95.0-bookworm AS build
# The nightly that builds the eBPF probes (aya-build, -Z build-std=core);
# bpf-linker is linked against its own libLLVM (22), so the two move
# together: change the date only with a rebuilt bpf-linker (cargo xtask
# build does it).
ENV CEA_BPF_TOOLCHAIN=nightly-2026-05-20 \
    CARGO_INCREMENTAL=0 \
    CARGO_TERM_COLOR=never
RUN rustup toolchain install "$CEA_BPF_TOOLCHAIN" --profile minimal --component rust-src
WORKDIR /src
COPY . .
# The lock file must already describe the workspace: fail, never re-resolve.
RUN cargo fetch --locked
RUN RUSTFLAGS="--remap-path-prefix=/src=. --remap-path-prefix=/usr/local/cargo=/cargo" \
    cargo xtask build --release --locked \
 && install -D target/release/cloud-event-agent /out/cloud-event-agent

FROM gcr.io/distroless/cc-debian12
COPY --from=build /out/cloud-event-agent /usr/local/bin/cloud-event-agent
EXPOSE 9043
ENTRYPOINT ["/usr/local/bin/cloud-event-agent"]
