package controller

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ctrl is a running `spot-handler controller`.
type ctrl struct {
	name       string
	cmd        *exec.Cmd
	metricsURL string
	probeURL   string
	started    time.Time

	mu      sync.Mutex
	log     strings.Builder
	done    chan struct{}
	exitErr error
}

// startController runs the controller for queueURL against the plane (or
// kubeconfig, if not "") and moto, named name, with extra flags, and waits
// for /readyz; the test's cleanup kills it and, on failure, logs its output.
func startController(t testing.TB, name, queueURL, kubeconfig string, extra ...string) *ctrl {
	t.Helper()
	if kubeconfig == "" {
		kubeconfig = plane.Kubeconfig
	}
	ports := freePorts(t, 2)
	c := &ctrl{name: name, metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0]),
		probeURL: fmt.Sprintf("http://127.0.0.1:%d", ports[1]), done: make(chan struct{})}
	args := append([]string{"controller", "--queue-url", queueURL, "--kubeconfig", kubeconfig,
		"--endpoint-url", moto.URL, "--region", "us-east-1", "--log-format", "console",
		"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--probe-addr", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"--leader-elect-identity", name, "--queue-wait", "1s"}, extra...)
	c.cmd = exec.Command(binary, args...)
	c.cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "AWS_EC2_METADATA_DISABLED=true",
		"POD_NAMESPACE=kube-system")
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.started = time.Now()
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting the controller: %v", err)
	}
	go c.collect(stderr)
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("--- controller %s log ---\n%s", name, tail(c.logs(), 150))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			t.Fatalf("controller %s exited during start-up (%v):\n%s", name, c.exitErr, c.logs())
		default:
		}
		if resp, err := http.Get(c.probeURL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("controller %s not ready after 60s:\n%s", name, c.logs())
	return nil
}

func (c *ctrl) collect(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		c.mu.Lock()
		c.log.WriteString(sc.Text() + "\n")
		c.mu.Unlock()
	}
	c.exitErr = c.cmd.Wait()
	close(c.done)
}

func (c *ctrl) logs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

// exited reports whether the process has ended.
func (c *ctrl) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill ends the process with SIGKILL (no lease release, no clean-up).
func (c *ctrl) kill() {
	if !c.exited() {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.done
	}
}

// metric returns the sum of name's samples whose labels contain every
// `label="value"` in match (0 if the scrape fails).
func (c *ctrl) metric(name string, match ...string) float64 {
	resp, err := http.Get(c.metricsURL)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)$`)
	sum := 0.0
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		ok := true
		for _, kv := range match {
			ok = ok && strings.Contains(m[1], kv)
		}
		if ok {
			v, _ := strconv.ParseFloat(m[2], 64)
			sum += v
		}
	}
	return sum
}

// rss is the process's resident memory in MiB.
func (c *ctrl) rss() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
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

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitUntil polls cond every 100ms until it holds or timeout passes.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
}
