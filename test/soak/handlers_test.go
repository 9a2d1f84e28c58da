package soak

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// proc is one handler process (an agent or a controller replica) that the
// soak may kill, stop and restart: every exit it did not cause is a crash.
type proc struct {
	what  string
	start func() (*testenv.Child, error)

	mu      sync.Mutex
	child   *testenv.Child
	killed  map[*testenv.Child]bool // processes the soak killed: their exits are expected
	crashes []string                // exits the soak did not cause, with the log's tail
	logs    []string                // logs of the earlier processes (after a restart)
	scanned int                     // how much of the current process's log problems has reported
}

// startProc starts a handler with start and watches it for crashes.
func startProc(what string, start func() (*testenv.Child, error)) (*proc, error) {
	p := &proc{what: what, start: start, killed: map[*testenv.Child]bool{}}
	return p, p.launch()
}

func (p *proc) launch() error {
	c, err := p.start()
	if err != nil {
		return fmt.Errorf("starting %s: %w", p.what, err)
	}
	p.mu.Lock()
	p.child, p.scanned = c, 0
	p.mu.Unlock()
	go func() {
		<-c.Done()
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.killed[c] {
			p.crashes = append(p.crashes, fmt.Sprintf("%s exited on its own (%v); log tail:\n%s", p.what, c.ExitErr(), testenv.Tail(c.Logs(), 30)))
		}
	}()
	return nil
}

// current is the running process.
func (p *proc) current() *testenv.Child {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.child
}

// kill ends the process with SIGKILL (an OOM kill, a node's reboot).
func (p *proc) kill() {
	p.mu.Lock()
	c := p.child
	p.killed[c] = true
	p.mu.Unlock()
	c.Kill()
	<-c.Done()
	p.mu.Lock()
	p.logs = append(p.logs, c.Logs())
	p.mu.Unlock()
}

// restart starts the process again after kill, retrying for a while (a
// port race, a slow start under load).
func (p *proc) restart() error {
	var err error
	for range 3 {
		if err = p.launch(); err == nil {
			return nil
		}
		time.Sleep(time.Second)
	}
	return err
}

// pause stops the process (SIGSTOP) for d, then continues it.
func (p *proc) pause(d time.Duration) {
	c := p.current()
	if c.Signal(syscall.SIGSTOP) != nil {
		return
	}
	time.Sleep(d)
	_ = c.Signal(syscall.SIGCONT)
}

// stop kills the process for good (the end of its scenario or the soak).
func (p *proc) stop() { p.kill() }

// panicLine finds a panic in a Go program's output: the runtime's own
// "panic: " and "goroutine N [running]", or a recovered panic a handler
// logged (its stack or its message).
var panicLine = regexp.MustCompile(`(?m)(panic: |goroutine \d+ \[running\]|"panic"|recovered from a panic|drain panicked)`)

// problems are the process's crashes and the panics in its logs so far.
func (p *proc) problems() []string {
	p.mu.Lock()
	out := append([]string(nil), p.crashes...)
	logs := append(append([]string(nil), p.logs...), p.child.Logs()[p.scanned:])
	p.mu.Unlock()
	for _, l := range logs {
		if loc := panicLine.FindStringIndex(l); loc != nil {
			from := max(0, loc[0]-400)
			out = append(out, fmt.Sprintf("%s logged a panic: …%s…", p.what, l[from:min(len(l), loc[1]+1200)]))
			break
		}
	}
	return out
}

// forgetProblems marks what problems reported as seen (a long-lived
// controller's panic is reported in the wave it happened in, once).
func (p *proc) forgetProblems() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.crashes, p.logs, p.scanned = nil, nil, len(p.child.Logs())
}

// allLogs is everything the process and its killed predecessors logged.
func (p *proc) allLogs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(append(append([]string(nil), p.logs...), p.child.Logs()), "\n")
}
