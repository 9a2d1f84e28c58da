package testenv

import (
	"os"
	"testing"
	"time"
)

// TestCPUSeconds: the test process's CPU time grows while it spins, and a
// process that does not exist is an error, not 0.
func TestCPUSeconds(t *testing.T) {
	before, err := CPUSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := CPUSeconds(os.Getpid())
	if err != nil || after-before < 0.1 {
		t.Errorf("CPU seconds %v → %v (%v) after spinning 0.3 s: want at least 0.1 more", before, after, err)
	}
	if _, err := CPUSeconds(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}
