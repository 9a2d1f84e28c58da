// Package bench measures spot-handler end to end, the agent binary against
// the real local control plane (kwok kubelets) and AEMM, and prints the
// figures with b.ReportMetric for `make bench` (test/benchtable turns them
// into the README's table). Nothing here asserts a speed: these are figures,
// not tests. The plane starts only when benchmarks run.
package bench

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

var (
	plane  *testenv.Plane
	binary string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "spot-handler-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if binary, err = testenv.BuildAgent(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if plane, err = testenv.StartPlane(testenv.Options{}); err != nil {
		fmt.Fprintf(os.Stderr, "benchmarks need the local control plane: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	plane.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}
