package testenv

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BuildAgent builds cmd/spot-handler into dir as the image does (static,
// trimmed, stripped: see `make image-binary`) and returns its path.
func BuildAgent(dir string) (string, error) {
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	bin := filepath.Join(dir, "spot-handler")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/spot-handler")
	cmd.Dir = strings.TrimSpace(string(root))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building spot-handler: %w\n%s", err, out)
	}
	return bin, nil
}

// AgentProc is a `spot-handler agent` running as a child process.
type AgentProc struct {
	// Cmd is the process; MetricsURL its /metrics, ProbeURL its probe server.
	Cmd                  *exec.Cmd
	MetricsURL, ProbeURL string
	// Started is just before the process was started; Ready is when its
	// /readyz first answered 200 (polled every 5ms).
	Started, Ready time.Time

	mu      sync.Mutex
	log     strings.Builder
	done    chan struct{}
	exitErr error
}

// StartAgent runs bin's agent for node against imdsURL with the plane's
// kubeconfig and extra flags, on free loopback ports, and waits up to 30s
// for /readyz.
func StartAgent(bin, kubeconfig, node, imdsURL string, extra ...string) (*AgentProc, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	a := &AgentProc{MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0]),
		ProbeURL: fmt.Sprintf("http://127.0.0.1:%d", ports[1]), done: make(chan struct{})}
	args := append([]string{"agent", "--node-name", node, "--kubeconfig", kubeconfig, "--imds-endpoint", imdsURL,
		"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--probe-addr", fmt.Sprintf("127.0.0.1:%d", ports[1])}, extra...)
	a.Cmd = exec.Command(bin, args...)
	a.Cmd.Env = append(os.Environ(), "POD_NAMESPACE=kube-system", "POD_NAME=spot-handler-"+node)
	a.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := a.Cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	a.Started = time.Now()
	if err := a.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the agent: %w", err)
	}
	go a.collect(stderr)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-a.done:
			return nil, fmt.Errorf("agent exited during start-up (%v):\n%s", a.exitErr, a.Logs())
		default:
		}
		if resp, err := http.Get(a.ProbeURL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				a.Ready = time.Now()
				return a, nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.Kill()
	return nil, fmt.Errorf("agent for %s not ready after 30s:\n%s", node, a.Logs())
}

func (a *AgentProc) collect(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		a.mu.Lock()
		a.log.WriteString(sc.Text() + "\n")
		a.mu.Unlock()
	}
	a.exitErr = a.Cmd.Wait()
	close(a.done)
}

// Logs returns what the agent logged so far.
func (a *AgentProc) Logs() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()
}

// Done is closed when the agent has exited; ExitErr then says how.
func (a *AgentProc) Done() <-chan struct{} { return a.done }

// ExitErr is the process's exit error, valid after Done.
func (a *AgentProc) ExitErr() error { return a.exitErr }

// Kill stops the agent with SIGKILL and waits for it.
func (a *AgentProc) Kill() {
	select {
	case <-a.done:
	default:
		_ = a.Cmd.Process.Signal(syscall.SIGKILL)
		<-a.done
	}
}

// Metric returns the sum of the samples of name whose label sets contain
// every `label="value"` in match, from the agent's /metrics.
func (a *AgentProc) Metric(name string, match ...string) (float64, error) {
	resp, err := http.Get(a.MetricsURL)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
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
	return sum, nil
}
