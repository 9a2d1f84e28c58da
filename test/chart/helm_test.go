// Package chart_test tests charts/spot-handler: helm lint and template with
// default values and with every optional feature on, the values schema, the
// hardened DaemonSet and least-privilege RBAC, the manifests against a real
// kube-apiserver (dry-run, apply, impersonated permission checks), the alerts
// with promtool, and the Grafana dashboard.
package chart_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

const (
	// release is the release name the tests render; with it the full name is just "spot-handler".
	release = "spot-handler"
	// kubeVersion is what helm template is told the cluster runs (the chart sets kubeVersion,
	// and a helm built with go install assumes v1.20).
	kubeVersion = "1.37.2"
)

// repoRoot is the repository's root folder.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("cannot locate the test file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// chartDir is charts/spot-handler.
func chartDir(tb testing.TB) string {
	return filepath.Join(repoRoot(tb), "charts", "spot-handler")
}

// testdata returns the path of a file in test/chart/testdata.
func testdata(tb testing.TB, name string) string {
	return filepath.Join(repoRoot(tb), "test", "chart", "testdata", name)
}

// needPeers skips a test under -short (`make test-unit`): it needs a peer
// built by hack/tools.sh. `make test` never skips it; a missing peer fails it.
func needPeers(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("-short: needs helm or the local control plane (make test runs it)")
	}
}

// helmBin returns the pinned helm, built by hack/tools.sh helm.
func helmBin(tb testing.TB) string {
	tb.Helper()
	needPeers(tb)
	p, err := testenv.Binary("helm", testenv.HelmVersion)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// runHelm runs helm with args in a throwaway HELM home and returns its stdout;
// err carries stderr.
func runHelm(tb testing.TB, args ...string) (string, error) {
	tb.Helper()
	home := tb.TempDir()
	cmd := exec.Command(helmBin(tb), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), &helmError{args: args, err: err, stderr: errb.String()}
	}
	return out.String(), nil
}

// helmError is a failed helm run with its stderr, which holds helm's reason.
type helmError struct {
	args   []string
	err    error
	stderr string
}

func (e *helmError) Error() string {
	return "helm " + strings.Join(e.args, " ") + ": " + e.err.Error() + ": " + e.stderr
}

// templateArgs returns the helm template arguments for namespace ns with the
// given values files and --set pairs.
func templateArgs(tb testing.TB, ns string, valuesFiles []string, sets ...string) []string {
	args := []string{"template", release, chartDir(tb), "--namespace", ns, "--kube-version", kubeVersion}
	for _, f := range valuesFiles {
		args = append(args, "--values", f)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return args
}

// render runs helm template and returns the rendered objects, failing the test
// if helm fails.
func render(tb testing.TB, ns string, valuesFiles []string, sets ...string) []*unstructured.Unstructured {
	tb.Helper()
	out, err := runHelm(tb, templateArgs(tb, ns, valuesFiles, sets...)...)
	if err != nil {
		tb.Fatal(err)
	}
	objs, err := decodeManifests(out)
	if err != nil {
		tb.Fatalf("decoding helm template output: %v\n%s", err, out)
	}
	return objs
}

// allFeatures is the values file that turns every optional feature on.
func allFeatures(tb testing.TB) []string { return []string{testdata(tb, "all-features.yaml")} }

// decodeManifests splits a multi-document YAML stream into objects, skipping
// empty documents.
func decodeManifests(s string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(s), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// find returns the rendered objects of a kind.
func find(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// one returns the single rendered object of a kind, failing otherwise.
func one(tb testing.TB, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	tb.Helper()
	got := find(objs, kind)
	if len(got) != 1 {
		tb.Fatalf("rendered %d objects of kind %s, want 1", len(got), kind)
	}
	return got[0]
}

// gvk is a shorthand for an object's group, version and kind.
func gvk(o *unstructured.Unstructured) schema.GroupVersionKind { return o.GroupVersionKind() }
