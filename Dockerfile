# Multi-stage build: a static binary (pure Go, no cgo) in a distroless, non-root image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/upstate ./cmd/upstate \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="Upstate" \
      org.opencontainers.image.description="Self-hosted status page and availability monitor" \
      org.opencontainers.image.source="https://github.com/upstate-dev/upstate" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/upstate /usr/local/bin/upstate
COPY configs/upstate.container.yaml /etc/upstate/upstate.yaml
COPY --from=build --chown=nonroot:nonroot /out/data /data
VOLUME /data
EXPOSE 8080
USER nonroot:nonroot
# The image has no shell or curl: the binary asks its own /readyz (server.listen, or
# UPSTATE_SERVER_LISTEN, from the same config).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/upstate", "healthcheck", "-config", "/etc/upstate/upstate.yaml"]
ENTRYPOINT ["/usr/local/bin/upstate"]
CMD ["serve", "-config", "/etc/upstate/upstate.yaml"]
