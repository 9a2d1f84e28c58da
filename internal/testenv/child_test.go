package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeChild writes a shell script standing in for spot-handler: it logs its
// sub-command and arguments on stderr, then exits 3 for "fail" or sleeps.
func fakeChild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "spot-handler")
	script := "#!/bin/sh\necho \"args: $*\" >&2\necho \"env: $CHILD_TEST\" >&2\n" +
		"if [ \"$1\" = fail ]; then exit 3; fi\nexec sleep 60\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestChildLogsAndSignal(t *testing.T) {
	c, err := StartChild("the fake", fakeChild(t), "agent", []string{"--node-name", "n1"}, []string{"CHILD_TEST=yes"})
	if err != nil {
		t.Fatal(err)
	}
	c.KillAtCleanup(t, "fake log:", 0)
	c.WaitLog(t, 10*time.Second, "the env logged", "env: yes")
	logs := c.Logs()
	if !strings.Contains(logs, "args: agent --metrics-addr 127.0.0.1:") || !strings.Contains(logs, "--node-name n1") ||
		!strings.Contains(logs, "--probe-addr "+strings.TrimPrefix(c.ProbeURL, "http://")) {
		t.Errorf("the child was not given its sub-command, ports and flags:\n%s", logs)
	}
	if c.Exited() {
		t.Fatal("exited before the signal")
	}
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if err := c.ExitErr(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("exit error %v, want terminated by SIGTERM", err)
	}
}

func TestChildWaitReadyReportsEarlyExit(t *testing.T) {
	c, err := StartChild("the fake", fakeChild(t), "fail", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.WaitReady("fake", 10*time.Second, 5*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "fake exited during start-up (exit status 3)") || !strings.Contains(err.Error(), "args: fail") {
		t.Errorf("WaitReady = %v, want the early exit with the child's log", err)
	}
	if !c.Ready.IsZero() {
		t.Error("Ready set for a child that never answered")
	}
}

func TestChildWaitReadyTimesOutAndKills(t *testing.T) {
	c, err := StartChild("the fake", fakeChild(t), "agent", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.WaitReady("fake", 300*time.Millisecond, 20*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "fake not ready after 300ms") {
		t.Errorf("WaitReady = %v, want not ready after 300ms", err)
	}
	if !c.Exited() {
		t.Error("the child still runs after WaitReady gave up")
	}
}

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb", 5, "a\nb"},
		{"", 3, ""},
	} {
		if got := Tail(tc.in, tc.n); got != tc.want {
			t.Errorf("Tail(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
