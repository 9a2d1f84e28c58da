package lifecycle

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestLaunchOfAnEndedLeadershipIsNotJoined: a Launch still returning from
// an ended leadership is not joined by the new leadership's call for the
// same action: that call waits for the node itself.
func TestLaunchOfAnEndedLeadershipIsNotJoined(t *testing.T) {
	r := newRig(t, 60, cfgWith(0, 90*time.Second))
	first, lose := context.WithCancel(context.Background())
	stale := make(chan struct{}) // the ended wait's: closed when the test ends
	defer close(stale)
	r.m.mu.Lock()
	r.m.launches["t"] = &launchWait{ended: first.Done(), done: stale}
	r.m.mu.Unlock()
	lose() // the first leadership's wait is ending but has not returned yet
	res := make(chan error, 1)
	go func() {
		_, err := r.m.Launch(context.Background(), action(Launching), neverReady)
		res <- err
	}()
	for r.fc.Now().Before(t0.Add(3 * time.Minute)) {
		select {
		case err := <-res:
			if err != nil {
				t.Fatalf("Launch of the new leadership: %v", err)
			}
			if got := strings.Join(r.asg.seen(), " "); !strings.HasSuffix(got, "complete:ABANDON@1m30s") {
				t.Errorf("calls %s, want the new leadership to abandon at the launch timeout", got)
			}
			return
		default:
			r.runTo(t, r.fc.Now().Sub(t0)+time.Second)
		}
	}
	t.Fatal("the new leadership's Launch joined the ended wait and never returned")
}
