// Package bench measures spot-handler end to end, the agent binary against
// the real local control plane (kwok kubelets) and AEMM, and prints the
// figures with b.ReportMetric for `make bench` (test/benchtable turns them
// into the README's table). Nothing here asserts a speed: these are figures,
// not tests. The plane starts only when benchmarks run.
package bench

import (
	"flag"
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
	os.Exit(testenv.RunWithAgent(m, benchmarking(), &plane, &binary))
}

// benchmarking reports whether -test.bench asked for benchmarks: only then
// are the plane and the binary worth starting.
func benchmarking() bool {
	f := flag.Lookup("test.bench")
	return f != nil && f.Value.String() != ""
}
