package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one peer running as a child, its output going to a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	ended
}

// startProcess starts bin with args, logging to dir/name.log. The child is
// killed if the test process dies (Pdeathsig) and runs in its own group.
func startProcess(name, dir, bin string, args []string, env []string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, ended: ended{done: make(chan struct{})}}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// logTail returns the last n lines of the process's log, for error messages.
func (p *process) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return Tail(string(b), n)
}

// failure describes why p did not come up, with its log tail.
func (p *process) failure(what string, err error) error {
	state := "running"
	if p.exited() {
		state = fmt.Sprintf("exited: %v", p.err)
	}
	return fmt.Errorf("%s: %s did not become ready (%s): %w\n--- last lines of %s ---\n%s", what, p.name, state, err, p.logPath, p.logTail(25))
}

// logShows reports whether the process's log holds s: how a readiness check
// tells that this child answered, and not another process that took the port.
func (p *process) logShows(s string) bool {
	b, err := os.ReadFile(p.logPath)
	return err == nil && strings.Contains(string(b), s)
}

// lostPort reports whether p exited because its port was taken.
func (p *process) lostPort() bool {
	if !p.exited() {
		return false
	}
	b, _ := os.ReadFile(p.logPath)
	return strings.Contains(strings.ToLower(string(b)), "address already in use")
}

// onFreePort calls try with a free loopback port, and again with a new one
// (three tries in all) when try reports that its child lost the port: the
// port is free when freePort returns, but a concurrent test can bind it
// before the child does.
func onFreePort(try func(port int) (lost bool, err error)) error {
	var err error
	for range 3 {
		port, perr := freePort()
		if perr != nil {
			return perr
		}
		var lost bool
		if lost, err = try(port); !lost {
			return err
		}
	}
	return err
}

// freePort returns a TCP port free on 127.0.0.1 at the time of the call.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePorts returns n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free loopback port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitFor polls check every 50ms until it returns nil, p exits, or timeout.
func waitFor(p *process, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	var last error = errors.New("not checked")
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("process exited: %v (last check: %v)", p.err, last)
		}
		if last = check(); last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %v: %w", timeout, last)
}

func itoa(i int) string { return strconv.Itoa(i) }
