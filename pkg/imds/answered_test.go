package imds

import (
	"net/http"
	"testing"
	"time"
)

// TestAnsweredPerPath: each path counts as answered only once it has
// answered itself (a 2xx that parsed, or a 404), and only after the notices
// of that answer were delivered; a path that fails (5xx, 401, 403, 429, a
// malformed body) is not answered however well the others answer.
func TestAnsweredPerPath(t *testing.T) {
	spot, maint := PathSpotInstanceAction, PathScheduledMaintenance
	fail := func(status int) func(*fakeIMDS) {
		return func(f *fakeIMDS) { f.setBody(spot, status, "down") }
	}
	for _, c := range []struct {
		name  string
		setup func(*fakeIMDS)
		want  map[Kind]bool // answered after the first cycle; kinds not listed: true
		spot  int           // Spot notices delivered in the first cycle
	}{
		{"every path 404", func(*fakeIMDS) {}, nil, 0},
		{"Spot path 503, the others 404", fail(http.StatusServiceUnavailable), map[Kind]bool{SpotInterruption: false}, 0},
		{"Spot path 500", fail(http.StatusInternalServerError), map[Kind]bool{SpotInterruption: false}, 0},
		{"Spot path 403", fail(http.StatusForbidden), map[Kind]bool{SpotInterruption: false}, 0},
		{"Spot path 429", fail(http.StatusTooManyRequests), map[Kind]bool{SpotInterruption: false}, 0},
		{"Spot path malformed", func(f *fakeIMDS) { f.setBody(spot, 200, "{") }, map[Kind]bool{SpotInterruption: false}, 0},
		{"Spot notice served", func(f *fakeIMDS) { f.setBody(spot, 200, spotBody("terminate", epoch.Add(2*time.Minute))) }, nil, 1},
		{"maintenance path 503, Spot 404", func(f *fakeIMDS) { f.setBody(maint, 503, "down") }, map[Kind]bool{ScheduledMaintenance: false}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeIMDS(t)
			c.setup(f)
			h := startWatcher(t, f.URL(), nil)
			if got := len(ofKind(h.drain(), SpotInterruption)); got != c.spot {
				t.Errorf("%d Spot notices delivered, want %d", got, c.spot)
			}
			for _, k := range Kinds() {
				want, listed := c.want[k]
				if !listed {
					want = true
				}
				if got := h.w.Answered(k); got.Equal(epoch) != want || (!want && !got.IsZero()) {
					t.Errorf("Answered(%s) = %v, want answered=%v (at %v)", k, got, want, epoch)
				}
			}
		})
	}
}

// TestAnsweredWhenThePathRecovers: a Spot path that failed counts as
// answered from the cycle in which it answers, after the notice of that
// answer was delivered.
func TestAnsweredWhenThePathRecovers(t *testing.T) {
	f := newFakeIMDS(t)
	f.setBody(PathSpotInstanceAction, http.StatusServiceUnavailable, "down")
	h := startWatcher(t, f.URL(), nil)
	h.next()
	if got := h.w.Answered(SpotInterruption); !got.IsZero() {
		t.Fatalf("Answered(Spot) = %v while the path answers 503", got)
	}
	f.setBody(PathSpotInstanceAction, 200, spotBody("terminate", epoch.Add(2*time.Minute)))
	h.next()
	if got, want := h.w.Answered(SpotInterruption), h.clock.Now(); !got.Equal(want) {
		t.Errorf("Answered(Spot) = %v, want %v", got, want)
	}
	if n := ofKind(h.drain(), SpotInterruption); len(n) != 1 {
		t.Errorf("Spot notices delivered: %+v, want 1", n)
	}
}
