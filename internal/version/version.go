// Package version holds the build's identity, set at link time with
//
//	-ldflags "-X github.com/spot-handler/spot-handler/internal/version.Version=v0.1.0
//	          -X github.com/spot-handler/spot-handler/internal/version.Commit=abc123"
//
// The Makefile and the Dockerfile both set them.
package version

import "runtime"

// Version is the release version, "dev" for an unversioned build.
var Version = "dev"

// Commit is the git commit the binary was built from, "unknown" if not set.
var Commit = "unknown"

// GoVersion is the Go toolchain that built the binary.
func GoVersion() string { return runtime.Version() }
