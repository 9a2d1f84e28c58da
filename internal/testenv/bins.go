package testenv

import (
	"fmt"
	"os"
	"path/filepath"
)

// Pinned peer versions. hack/tools.sh builds the same; a test checks they agree.
const (
	KubeVersion = "v1.37.2"
	EtcdVersion = "v3.6.16"
	KwokVersion = "v0.8.0"
	AEMMVersion = "v1.13.0"
	HelmVersion = "v3.22.0"
)

// CacheDir is where hack/tools.sh puts built peers: $SPOT_HANDLER_CACHE, else
// $XDG_CACHE_HOME/spot-handler, else ~/.cache/spot-handler.
func CacheDir() string {
	if d := os.Getenv("SPOT_HANDLER_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "spot-handler")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "spot-handler")
}

// Binary returns the path of a built peer, name-version in the cache's bin
// folder, or an error that says how to build it.
func Binary(name, version string) (string, error) {
	p := filepath.Join(CacheDir(), "bin", name+"-"+version)
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		return "", fmt.Errorf("test peer %s %s not found at %s: run 'make tools' (hack/tools.sh builds it from Go modules)", name, version, p)
	}
	return p, nil
}

// kwokStages is the stage file hack/tools.sh writes next to the kwok binary.
func kwokStages() (string, error) {
	return Binary("kwok-stages", KwokVersion+".yaml")
}
