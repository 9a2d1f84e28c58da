package testenv

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkPlaneStartup starts and stops the whole plane and reports how
// long the apiserver took to be ready and the plane's resident memory.
func BenchmarkPlaneStartup(b *testing.B) {
	for range b.N {
		p, err := StartPlane(Options{})
		if err != nil {
			b.Fatal(err)
		}
		rss := 0.0
		for _, pid := range p.PIDs() {
			rss += rssMiB(pid)
		}
		b.ReportMetric(p.StartupTime.Seconds(), "ready_s")
		b.ReportMetric(rss, "rss_MiB")
		p.Stop()
	}
}

func rssMiB(pid int) float64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
