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
COPY --from=build /out/upstate /usr/local/bin/upstate
COPY configs/upstate.container.yaml /etc/upstate/upstate.yaml
COPY --from=build --chown=nonroot:nonroot /out/data /data
VOLUME /data
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/upstate"]
CMD ["serve", "-config", "/etc/upstate/upstate.yaml"]
