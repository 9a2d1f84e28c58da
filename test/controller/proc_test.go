package controller

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// testCluster is the --cluster-name every controller of the tests runs
// with; newGroup tags its group kubernetes.io/cluster/<testCluster>.
const testCluster = "test-cluster"

// ctrl is a running `spot-handler controller`.
type ctrl struct {
	*testenv.Child
	name string
}

// startController runs the controller for queueURL against the plane (or
// kubeconfig, if not "") and moto, named name, with extra flags, and waits
// for /readyz; the test's cleanup kills it and, on failure, logs its output.
func startController(t testing.TB, name, queueURL, kubeconfig string, extra ...string) *ctrl {
	t.Helper()
	if kubeconfig == "" {
		kubeconfig = plane.Kubeconfig
	}
	args := append([]string{"--queue-url", queueURL, "--cluster-name", testCluster, "--kubeconfig", kubeconfig,
		"--endpoint-url", moto.URL, "--region", "us-east-1", "--log-format", "console",
		"--leader-elect-identity", name, "--queue-wait", "1s"}, extra...)
	p, err := testenv.StartChild("the controller", binary, "controller", args, []string{"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing", "AWS_EC2_METADATA_DISABLED=true", "POD_NAMESPACE=kube-system"})
	if err != nil {
		t.Fatal(err)
	}
	p.KillAtCleanup(t, fmt.Sprintf("--- controller %s log ---", name), 150)
	if err := p.WaitReady("controller "+name, 60*time.Second, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	return &ctrl{Child: p, name: name}
}

func (c *ctrl) logs() string { return c.Logs() }

// exited reports whether the process has ended.
func (c *ctrl) exited() bool { return c.Exited() }

// kill ends the process with SIGKILL (no lease release, no clean-up).
func (c *ctrl) kill() { c.Kill() }

// metric returns the sum of name's samples whose labels contain every
// `label="value"` in match (0 if the scrape fails).
func (c *ctrl) metric(name string, match ...string) float64 {
	v, _ := c.Metric(name, match...)
	return v
}

// rss is the process's resident memory in MiB.
func (c *ctrl) rss() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.PID()))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// waitUntil polls cond every 100ms until it holds or timeout passes.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.WaitUntil(t, timeout, what, cond)
}
