package drain

import (
	"testing"
	"time"
)

func TestAcceptedAfter(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	if d, ok := (&Report{}).AcceptedAfter(t0); ok || d != 0 {
		t.Errorf("no eviction accepted: %v %v, want 0 false", d, ok)
	}
	r := &Report{AllAccepted: t0.Add(1500 * time.Millisecond)}
	if d, ok := r.AcceptedAfter(t0); !ok || d.Milliseconds() != 1500 {
		t.Errorf("got %v %v, want 1.5s true", d, ok)
	}
}
