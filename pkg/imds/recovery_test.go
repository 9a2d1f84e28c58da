package imds

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

// Fault kinds a whole IMDS can show for a while (see faultHandler).
const (
	fault503   = "503"
	fault500   = "500"
	fault429   = "429"
	fault401   = "401"
	faultHang  = "hang"
	faultReset = "reset"
)

// faultHandler answers every request the way kind says: a status with an
// HTML body (429 with Retry-After: 1, as a throttling server may), no
// answer until the client gives up, or a connection closed without an
// answer.
func faultHandler(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch kind {
		case faultHang:
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		case faultReset:
			hangUp(w, r)
		case fault429:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "<html>429 - Too Many Requests</html>", http.StatusTooManyRequests)
		case fault401:
			http.Error(w, "<html>401 - Unauthorized</html>", http.StatusUnauthorized)
		case fault500:
			http.Error(w, "<html>500 - Internal Server Error</html>", http.StatusInternalServerError)
		default:
			http.Error(w, "<html>503 - Service Unavailable</html>", http.StatusServiceUnavailable)
		}
	}
}

// burst is a fake IMDS's schedule on the watcher's fake clock: from start,
// each fault for `each`, one after another; from the burst's end the spot
// path serves a notice.
type burst struct {
	start  time.Time
	each   time.Duration
	faults []string
}

// end is when the burst is over and the notice is served.
func (b burst) end() time.Time { return b.start.Add(time.Duration(len(b.faults)) * b.each) }

// at returns the fault in force at now, or "" outside the burst.
func (b burst) at(now time.Time) string {
	if now.Before(b.start) || !now.Before(b.end()) {
		return ""
	}
	return b.faults[now.Sub(b.start)/b.each]
}

// TestRecoveryWithinOnePoll drives the watcher on a fake clock through a
// burst of IMDS faults (every request, token included, fails the same way
// for 3s per kind) and checks that a spot notice served from the moment the
// burst ends is delivered within one poll interval of that moment, and that
// the failing IMDS got at most one request per path per poll interval. Only
// a burst that ends with throttling may delay it longer, by the watcher's
// capped backoff, which honours the 429's Retry-After.
func TestRecoveryWithinOnePoll(t *testing.T) {
	const poll = time.Second
	rotations := []struct {
		name   string
		faults []string
		limit  time.Duration // most time from the burst's end to delivery
	}{
		{"503 500 429 401 hang reset", []string{fault503, fault500, fault429, fault401, faultHang, faultReset}, poll},
		{"ends hanging", []string{fault429, faultReset, fault503, fault401, fault500, faultHang}, poll},
		{"ends 503", []string{faultHang, fault429, faultReset, fault401, fault500, fault503}, poll},
		{"ends 401", []string{fault503, faultHang, fault401}, poll},
		{"ends throttled", []string{faultHang, faultReset, fault503, fault500, fault401, fault429}, 2 * poll},
		{"long throttling", []string{fault429, fault429, fault429, fault429}, 2 * poll},
	}
	for _, rot := range rotations {
		t.Run(rot.name, func(t *testing.T) {
			b := burst{start: epoch.Add(time.Second), each: 3 * time.Second, faults: rot.faults}
			deadline := epoch.Add(time.Hour)
			f := newFakeIMDS(t)
			// The handlers read the watcher's fake clock once it exists.
			var clk atomic.Pointer[testingclock.FakeClock]
			now := func() time.Time {
				if c := clk.Load(); c != nil {
					return c.Now()
				}
				return epoch
			}
			for _, s := range sources {
				f.set(s.path, func(w http.ResponseWriter, r *http.Request) {
					switch kind := b.at(now()); {
					case kind != "":
						faultHandler(kind)(w, r)
					case s.kind == SpotInterruption && !now().Before(b.end()):
						w.Write([]byte(spotBody("terminate", deadline)))
					default:
						http.Error(w, "<html>404 - Not Found</html>", http.StatusNotFound)
					}
				})
			}
			f.setToken(func(w http.ResponseWriter, r *http.Request) {
				if kind := b.at(now()); kind != "" && kind != fault401 {
					faultHandler(kind)(w, r)
					return
				}
				f.issueToken(w, r)
			})
			// Default backoff; a short timeout so hanging cycles pass quickly.
			h := startWatcher(t, f.URL(), func(c *Config) { c.MaxBackoff, c.RequestTimeout = 0, 500*time.Millisecond })
			clk.Store(h.clock)

			var got *Notice
			for got == nil && h.clock.Now().Before(b.end().Add(30*time.Second)) {
				h.step(100 * time.Millisecond)
				for _, n := range h.drain() {
					if n.Kind == SpotInterruption && !n.Canceled {
						got = &n
					}
				}
			}
			if got == nil {
				t.Fatalf("no spot notice within 30s of the burst's end")
			}
			if late := got.Detected.Sub(b.end()); late < 0 || late > rot.limit {
				t.Errorf("notice delivered %v after the burst ended, want within %v", late, rot.limit)
			}
			perPath := map[string]int{}
			for _, r := range h.obs.take() {
				if !r.at.Before(b.start) && r.at.Before(b.end()) {
					perPath[r.path]++
				}
			}
			most := int(b.end().Sub(b.start)/poll) + 1
			for _, s := range sources {
				if n := perPath[s.path]; n == 0 || n > most {
					t.Errorf("%s: %d requests during the %v burst, want 1 to %d (at most one a poll)", s.path, n, b.end().Sub(b.start), most)
				}
			}
		})
	}
}
