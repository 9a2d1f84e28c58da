// Package e2e runs the spot-handler binary as a subprocess against the real
// local control plane (kwok nodes) and AWS's metadata simulator (AEMM).
package e2e

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

var (
	plane  *testenv.Plane
	binary string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "spot-handler-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "spot-handler")
	build := exec.Command("go", "build", "-o", binary, "../../cmd/spot-handler")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building spot-handler: %v\n", err)
		os.Exit(1)
	}
	plane, err = testenv.StartPlane(testenv.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e tests need the local control plane: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	plane.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needPlane(t *testing.T) *testenv.Plane {
	t.Helper()
	if plane == nil {
		t.Skip("-short: needs the local control plane")
	}
	return plane
}

// agentProc is a running `spot-handler agent`.
type agentProc struct {
	cmd        *exec.Cmd
	metricsURL string
	probeURL   string
	mu         sync.Mutex
	log        strings.Builder
	done       chan struct{}
	exitErr    error
	node       string
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAgent runs the agent for node against imdsURL with extra flags and
// waits until /readyz answers 200.
func startAgent(t *testing.T, node, imdsURL string, extra ...string) *agentProc {
	t.Helper()
	mp, pp := freePort(t), freePort(t)
	a := &agentProc{metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", mp), probeURL: fmt.Sprintf("http://127.0.0.1:%d", pp),
		done: make(chan struct{}), node: node}
	args := append([]string{"agent", "--node-name", node, "--kubeconfig", plane.Kubeconfig, "--imds-endpoint", imdsURL,
		"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", mp), "--probe-addr", fmt.Sprintf("127.0.0.1:%d", pp)}, extra...)
	a.cmd = exec.Command(binary, args...)
	a.cmd.Env = append(os.Environ(), "POD_NAMESPACE=kube-system", "POD_NAME=spot-handler-"+node)
	stderr, err := a.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			a.mu.Lock()
			a.log.WriteString(sc.Text() + "\n")
			a.mu.Unlock()
		}
		a.exitErr = a.cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		a.kill()
		if t.Failed() {
			t.Logf("agent log:\n%s", a.logs())
		}
	})
	waitUntil(t, 30*time.Second, "agent /readyz", func() bool {
		resp, err := http.Get(a.probeURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return a
}

func (a *agentProc) logs() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()
}

func (a *agentProc) kill() {
	select {
	case <-a.done:
	default:
		_ = a.cmd.Process.Signal(syscall.SIGKILL)
		<-a.done
	}
}

// metric returns the sum of samples of name whose labels contain every
// label=value in match, from the agent's /metrics.
func (a *agentProc) metric(t *testing.T, name string, match ...string) float64 {
	t.Helper()
	resp, err := http.Get(a.metricsURL)
	if err != nil {
		t.Fatal(err)
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

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
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

// spotNode makes a kwok node with a ReplicaSet of n pods pinned to it.
func spotNode(t *testing.T, node string, n int32, grace int64) string {
	t.Helper()
	ctx := context.Background()
	if _, err := plane.NewNode(ctx, node, map[string]string{"spot": "true"}); err != nil {
		t.Fatal(err)
	}
	ns := plane.NewNamespace(t)
	tpl := testenv.PodTemplate(map[string]string{"app": "web"}, map[string]string{"kubernetes.io/hostname": node}, grace, 0)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: tpl}}
	if _, err := plane.Client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := plane.WaitPods(ctx, ns, "app=web", int(n), 120*time.Second); err != nil {
		t.Fatal(err)
	}
	return ns
}
