package controller

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// startUnready starts the controller like startController but does not
// wait for /readyz (the API server may be out of reach).
func startUnready(t *testing.T, e *env, kubeconfig string) *ctrl {
	t.Helper()
	args := []string{"--queue-url", e.queueURL, "--kubeconfig", kubeconfig,
		"--endpoint-url", moto.URL, "--region", "us-east-1", "--log-format", "console",
		"--leader-elect-identity", "c1", "--leader-elect-name", e.lease, "--queue-wait", "1s"}
	if help, _ := exec.Command(binary, "controller", "-h").CombinedOutput(); strings.Contains(string(help), "-cluster-name") {
		args = append(args, "--cluster-name", "test")
	}
	p, err := testenv.StartChild("the controller", binary, "controller", args, []string{"AWS_ACCESS_KEY_ID=testing",
		"AWS_SECRET_ACCESS_KEY=testing", "AWS_EC2_METADATA_DISABLED=true", "POD_NAMESPACE=kube-system"})
	if err != nil {
		t.Fatal(err)
	}
	p.KillAtCleanup(t, "--- controller c1 log ---", 150)
	return &ctrl{Child: p, name: "c1"}
}

// count is how many lines of the controller's log match re.
func (c *ctrl) count(re string) int {
	return len(regexp.MustCompile(re).FindAllStringIndex(c.logs(), -1))
}

// TestSaysAPIServerUnreachable (issue #24 item 8): with its kubeconfig
// pointing at a closed port, the controller says, once, that the API
// server is unreachable and names --kubeconfig, and that the node index has
// not synced; SIGTERM then stops it at once (nothing is draining).
func TestSaysAPIServerUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e := newEnv(t, 30)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	raw, err := os.ReadFile(plane.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc := regexp.MustCompile(`server: *\S+`).ReplaceAllString(string(raw), "server: https://"+closed)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startUnready(t, e, path)
	waitUntil(t, 30*time.Second, "a line saying the API server is unreachable, naming --kubeconfig", func() bool {
		return c.count(`API server is unreachable: check --kubeconfig`) >= 1
	})
	waitUntil(t, 30*time.Second, "a line saying the node index has not synced", func() bool {
		return c.count(`node index has not synced yet`) == 1
	})
	time.Sleep(3 * time.Second) // retries go on: still one line
	if n := c.count(`API server is unreachable`); n != 1 {
		t.Errorf("%d lines about the unreachable API server, want 1 (once per change)", n)
	}
	sent := time.Now()
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
		t.Logf("stopped %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5s after SIGTERM with nothing draining")
	}
}

// TestSaysAPIServerRecovered: every API request answered 503 for a while:
// one line naming --kubeconfig, then one when the API server answers again;
// the controller then leads.
func TestSaysAPIServerRecovered(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e := newEnv(t, 30)
	faults := plane.Faults(t)
	down := faults.Add(testenv.Rule{Status: 503})
	c := startUnready(t, e, faults.Kubeconfig)
	waitUntil(t, 30*time.Second, "a line saying the API server fails", func() bool {
		return c.count(`listing or watching nodes failed`) >= 1
	})
	time.Sleep(3 * time.Second)
	if n := c.count(`listing or watching nodes failed`); n != 1 {
		t.Errorf("%d lines about the failing API server, want 1", n)
	}
	down.Remove()
	waitUntil(t, 60*time.Second, "a line saying the API server answers again, then leading", func() bool {
		return c.count(`API server answers again`) == 1 && strings.Contains(c.logs(), "leading: receiving messages")
	})
}

// TestSaysSQSUnreachable: moto stops answering (paused): one line saying
// SQS does not answer and naming --endpoint-url, then one when it answers
// again.
func TestSaysSQSUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e := newEnv(t, 30)
	c := e.controller("")
	waitUntil(t, 30*time.Second, "leading", func() bool { return strings.Contains(c.logs(), "leading: receiving messages") })
	if err := moto.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			_ = moto.Resume()
		}
	})
	waitUntil(t, 60*time.Second, "a line saying SQS does not answer, naming --endpoint-url", func() bool {
		return c.count(`SQS does not answer: check --queue-url, --region, --endpoint-url`) >= 1
	})
	if err := moto.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	waitUntil(t, 60*time.Second, "a line saying receiving works again", func() bool {
		return c.count(`receiving from the queue works again`) >= 1
	})
	if n := c.count(`receiving from the queue failed`); n != 1 {
		t.Errorf("%d lines about SQS failing, want 1 (once per change)", n)
	}
}
