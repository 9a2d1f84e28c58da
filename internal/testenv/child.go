package testenv

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ended is closed when a child process has been waited for; err then says
// how it ended.
type ended struct {
	done chan struct{}
	err  error
}

// exited reports whether the process has ended.
func (e *ended) exited() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// Child is a spot-handler subprocess (agent or controller) a test runs: its
// stderr is kept in memory, it is killed if the test process dies, and it
// is signalled by its own PID, never by name.
type Child struct {
	// Cmd is the process; MetricsURL its /metrics, ProbeURL its probe server.
	Cmd                  *exec.Cmd
	MetricsURL, ProbeURL string
	// Started is just before the process was started; Ready is when its
	// /readyz first answered 200 (zero until WaitReady saw it).
	Started, Ready time.Time

	mu  sync.Mutex
	log strings.Builder
	ended
}

// StartChild runs `bin sub --metrics-addr … --probe-addr … args…` on two
// free loopback ports, with env added to the test process's environment.
// what names the process in errors ("the agent").
func StartChild(what, bin, sub string, args, env []string) (*Child, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	c := &Child{MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0]),
		ProbeURL: fmt.Sprintf("http://127.0.0.1:%d", ports[1]), ended: ended{done: make(chan struct{})}}
	argv := append([]string{sub, "--metrics-addr", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"--probe-addr", fmt.Sprintf("127.0.0.1:%d", ports[1])}, args...)
	c.Cmd = exec.Command(bin, argv...)
	c.Cmd.Env = append(os.Environ(), env...)
	c.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := c.Cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("piping the stderr of %s: %w", what, err)
	}
	c.Started = time.Now()
	if err := c.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", what, err)
	}
	go c.collect(stderr)
	return c, nil
}

func (c *Child) collect(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		c.mu.Lock()
		c.log.WriteString(sc.Text() + "\n")
		c.mu.Unlock()
	}
	c.err = c.Cmd.Wait()
	close(c.done)
}

// WaitReady polls ProbeURL's /readyz every `every` until it answers 200
// (setting Ready), the process exits, or timeout passes (then it kills the
// process). what names it in the error ("controller replica-a").
func (c *Child) WaitReady(what string, timeout, every time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c.exited() {
			return fmt.Errorf("%s exited during start-up (%v):\n%s", what, c.err, c.Logs())
		}
		if resp, err := http.Get(c.ProbeURL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				c.Ready = time.Now()
				return nil
			}
		}
		time.Sleep(every)
	}
	c.Kill()
	return fmt.Errorf("%s not ready after %v:\n%s", what, timeout, c.Logs())
}

// KillAtCleanup kills the process when t ends and, if t failed, logs the
// last lines (all if lines is 0) of its output under header.
func (c *Child) KillAtCleanup(t testing.TB, header string, lines int) {
	t.Cleanup(func() {
		c.Kill()
		if t.Failed() {
			out := c.Logs()
			if lines > 0 {
				out = Tail(out, lines)
			}
			t.Logf("%s\n%s", header, out)
		}
	})
}

// Logs returns what the process logged so far.
func (c *Child) Logs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

// WaitLog waits up to timeout until the process has logged line (failing t
// with "timed out … waiting for what" otherwise).
func (c *Child) WaitLog(t testing.TB, timeout time.Duration, what, line string) {
	t.Helper()
	WaitUntil(t, timeout, what, func() bool { return strings.Contains(c.Logs(), line) })
}

// Done is closed when the process has exited; ExitErr then says how.
func (c *Child) Done() <-chan struct{} { return c.done }

// ExitErr is the process's exit error, valid after Done.
func (c *Child) ExitErr() error { return c.err }

// Exited reports whether the process has ended.
func (c *Child) Exited() bool { return c.exited() }

// PID is the process's ID.
func (c *Child) PID() int { return c.Cmd.Process.Pid }

// Signal sends sig to the process (by its PID).
func (c *Child) Signal(sig os.Signal) error { return c.Cmd.Process.Signal(sig) }

// Kill stops the process with SIGKILL (no clean-up, no lease release) and
// waits for it.
func (c *Child) Kill() {
	if !c.exited() {
		_ = c.Cmd.Process.Signal(syscall.SIGKILL)
		<-c.done
	}
}

// Metric returns the sum of the samples of name whose label sets contain
// every `label="value"` in match, from the process's /metrics.
func (c *Child) Metric(name string, match ...string) (float64, error) {
	resp, err := http.Get(c.MetricsURL)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return SumSamples(string(b), name, match...), nil
}

// MustMetric is Metric, failing t on a scrape error.
func (c *Child) MustMetric(t testing.TB, name string, match ...string) float64 {
	t.Helper()
	v, err := c.Metric(name, match...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// WaitUntil polls cond every 100ms until it holds, failing t with "timed
// out after … waiting for what" if timeout passes first.
func WaitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
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

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
