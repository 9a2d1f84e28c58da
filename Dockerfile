# syntax=docker/dockerfile:1
# The spot-handler image: one static binary on distroless, running as non-root.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse --short HEAD) .
#
# `make image-binary` builds the same binary without Docker (same flags);
# test/dockerfile keeps the two in step and checks the base image, user and
# entrypoint.

ARG GO_VERSION=1.26

# The build runs on the builder's own platform and cross-compiles for the
# target one, so a multi-arch build needs no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X github.com/spot-handler/spot-handler/internal/version.Version=${VERSION} -X github.com/spot-handler/spot-handler/internal/version.Commit=${COMMIT}" \
    -o /out/spot-handler ./cmd/spot-handler

# distroless static: no shell, no package manager, CA certificates and tzdata
# only; the nonroot tag's user is 65532.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="spot-handler" \
      org.opencontainers.image.description="Drains Kubernetes nodes before AWS reclaims their Spot instances" \
      org.opencontainers.image.source="https://github.com/spot-handler/spot-handler" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /out/spot-handler /spot-handler
USER 65532:65532
ENTRYPOINT ["/spot-handler"]
CMD ["agent"]
