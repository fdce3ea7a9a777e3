# Build: the probes need the pinned nightly and bpf-linker (see xtask); the
# agent itself builds on stable.
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo xtask build --release \
 && install -D target/release/cloud-event-agent /out/cloud-event-agent

FROM gcr.io/distroless/cc-debian12
COPY --from=build /out/cloud-event-agent /usr/local/bin/cloud-event-agent
EXPOSE 9043
ENTRYPOINT ["/usr/local/bin/cloud-event-agent"]
