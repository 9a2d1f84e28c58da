package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// startChild runs bin with args (and env added to this process's) as a
// child process in its own process group, logging to logPath, and returns
// a function that stops it by its PID: SIGTERM, then SIGKILL after 5s. The
// child also gets SIGKILL if the demo dies first.
func startChild(what, bin string, args, env []string, logPath string) (func(), error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the %s: %w", what, err)
	}
	return func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		f.Close()
	}, nil
}

// printTail prints the last n lines of a child's log, which goes with the
// plane's folder when the demo ends.
func printTail(what, logPath string, n int) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	fmt.Printf("== the %s's last %d log lines (%s)\n", what, min(n, len(lines)), logPath)
	for _, l := range lines[max(0, len(lines)-n):] {
		fmt.Println("   " + l)
	}
}
