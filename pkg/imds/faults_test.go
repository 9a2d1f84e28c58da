package imds

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestFaults runs the watcher against a fake IMDS whose spot path (or token
// endpoint) fails one way. Each fault is observed with its outcome, never
// ends Run, slows polling only when IMDS throttles (429), and the watch picks
// up a notice once the fault clears.
func TestFaults(t *testing.T) {
	block := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Error(w, "<html>error</html>", code) }
	}
	tests := []struct {
		name    string
		spot    http.HandlerFunc // the spot path's handler while the fault lasts
		token   http.HandlerFunc // the token endpoint's handler while the fault lasts
		outcome string
		backoff bool   // the next cycle waits longer than PollInterval (429 only)
		hint    string // a logged error containing this, if set
	}{
		{name: "404 is no notice", spot: nil, outcome: OutcomeNotFound},
		{name: "403 on metadata", spot: status(http.StatusForbidden), outcome: OutcomeForbidden, hint: "hostNetwork: true"},
		{name: "403 on token", token: status(http.StatusForbidden), outcome: OutcomeForbidden, hint: "hop-limit 2"},
		{name: "IMDSv1 only: token 404", token: status(http.StatusNotFound), outcome: OutcomeOther},
		{name: "IMDSv1 only: token 405", token: status(http.StatusMethodNotAllowed), outcome: OutcomeOther},
		{name: "401 that a new token does not cure", spot: status(http.StatusUnauthorized), outcome: OutcomeUnauthorized},
		{name: "429", spot: status(http.StatusTooManyRequests), outcome: OutcomeThrottled, backoff: true},
		{name: "500", spot: status(http.StatusInternalServerError), outcome: OutcomeServerError},
		{name: "503", spot: status(http.StatusServiceUnavailable), outcome: OutcomeServerError},
		{name: "400", spot: status(http.StatusBadRequest), outcome: OutcomeOther},
		{name: "timeout", spot: block, outcome: OutcomeTimeout},
		{name: "token timeout", token: block, outcome: OutcomeTimeout, hint: "hop limit is 1"},
		{name: "connection reset", spot: hangUp, outcome: OutcomeConnectionError},
		{name: "body cut short", spot: cutShort, outcome: OutcomeOther},
		{name: "malformed JSON", spot: body(`{"action": "terminate", "time": `), outcome: OutcomeParseError},
		{name: "wrong JSON", spot: body(`{"action": "terminate", "time": "soon"}`), outcome: OutcomeParseError},
		{name: "10 MiB body", spot: body(`{"action": "terminate", "time": "` + strings.Repeat("9", 10<<20) + `"}`), outcome: OutcomeParseError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIMDS(t)
			// Short timeouts only where the fault is a timeout, so a loaded
			// machine cannot turn a slow answer into a timeout elsewhere.
			timeout := 5 * time.Second
			if tt.outcome == OutcomeTimeout {
				timeout = 500 * time.Millisecond
			}
			h := startWatcher(t, f.URL(), func(c *Config) { c.RequestTimeout = timeout })
			h.obs.take()
			f.set("meta-data/spot/instance-action", tt.spot)
			if tt.token != nil {
				f.expireTokens()
				f.setToken(tt.token)
			}
			h.next()
			if got := h.obs.outcomes(PathSpotInstanceAction); len(got) != 1 || got[0] != tt.outcome {
				t.Fatalf("outcomes for %s = %q, want [%q]", PathSpotInstanceAction, got, tt.outcome)
			}
			if ns := h.drain(); len(ns) != 0 {
				t.Fatalf("notices during fault: %+v", ns)
			}
			if tt.hint != "" {
				logged := h.logs.FilterFieldKey("fix").All()
				if len(logged) != 1 || !strings.Contains(logged[0].ContextMap()["fix"].(string), tt.hint) {
					t.Errorf("hint logs = %+v, want one whose fix mentions %q", logged, tt.hint)
				}
			}
			if h.logs.FilterMessage("IMDS request failed").Len() == 0 && tt.outcome != OutcomeNotFound {
				t.Errorf("no warning logged for the failure")
			}
			// One cycle at PollInterval happens only without backoff.
			if moved := h.step(time.Second); moved == tt.backoff {
				t.Errorf("cycle after 1s = %v, want backoff %v", moved, tt.backoff)
			}

			// Clear the fault: the watch goes on and delivers a notice.
			deadline := epoch.Add(time.Hour)
			f.setToken(nil)
			f.setBody("meta-data/spot/instance-action", http.StatusOK, spotBody("terminate", deadline))
			h.next()
			ns := h.drain()
			if len(ns) != 1 || ns[0].Kind != SpotInterruption || !ns[0].Deadline.Equal(deadline) {
				t.Fatalf("after recovery got %+v, want one spot notice for %v", ns, deadline)
			}
			if got := h.obs.outcomes(PathSpotInstanceAction); got[len(got)-1] != OutcomeOK {
				t.Errorf("outcomes after recovery = %q, want ok last", got)
			}
			if tt.outcome != OutcomeNotFound && tt.outcome != OutcomeParseError &&
				h.logs.FilterMessage("IMDS request recovered").Len() == 0 {
				t.Errorf("recovery not logged")
			}
		})
	}
}

// TestConnectionRefused points the watcher at a closed port: every request
// is a connection error, cycles go on with backoff, and Run ends only on
// cancel.
func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	h := startWatcher(t, "http://"+addr, nil)
	for range 3 {
		h.next()
	}
	reqs := h.obs.take()
	if len(reqs) != 4*4 {
		t.Fatalf("observed %d requests in 4 cycles, want 16", len(reqs))
	}
	for _, r := range reqs {
		if r.outcome != OutcomeConnectionError {
			t.Errorf("%s: outcome %q, want connection_error", r.path, r.outcome)
		}
	}
	if !h.w.LastSuccess().IsZero() {
		t.Errorf("LastSuccess = %v, want zero", h.w.LastSuccess())
	}
	if got, want := h.w.LastPoll(), h.clock.Now(); !got.Equal(want) {
		t.Errorf("LastPoll = %v, want %v", got, want)
	}
	h.stop()
}

// TestTokenExpiresMidRun makes every token answer 401 after a notice was
// delivered: the SDK fetches a new token within the same request (each of
// the four concurrent reads may fetch its own, once), no request fails, and
// the notice is not delivered again.
func TestTokenExpiresMidRun(t *testing.T) {
	f := newFakeIMDS(t)
	f.setBody("meta-data/spot/instance-action", http.StatusOK, spotBody("terminate", epoch.Add(2*time.Minute)))
	h := startWatcher(t, f.URL(), nil)
	if ns := h.drain(); len(ns) != 1 {
		t.Fatalf("first cycle delivered %+v, want one notice", ns)
	}
	tokens, _ := f.counts()
	f.expireTokens()
	h.next()
	h.next()
	newTokens, unauthorized := f.counts()
	if n := newTokens - tokens; n < 1 || n > len(sources) || unauthorized < 1 || unauthorized > len(sources) {
		t.Errorf("after expiry: %d new token requests, %d 401s; want 1 to %d of each", n, unauthorized, len(sources))
	}
	for _, r := range h.obs.take() {
		if !reachable(r.outcome) {
			t.Errorf("%s: outcome %q across the token refresh", r.path, r.outcome)
		}
	}
	if ns := h.drain(); len(ns) != 0 {
		t.Errorf("notice delivered again across the token refresh: %+v", ns)
	}
}

// TestForbiddenHintRateLimited checks the 403 explanation is logged once per
// hintInterval, not every cycle.
func TestForbiddenHintRateLimited(t *testing.T) {
	f := newFakeIMDS(t)
	f.setToken(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "Forbidden", http.StatusForbidden) })
	h := startWatcher(t, f.URL(), nil)
	for range 20 { // 20 cycles at the 10s cap: under 5 minutes
		h.next()
	}
	if n := h.logs.FilterMessageSnippet("403 Forbidden").Len(); n != 1 {
		t.Errorf("hint logged %d times in %v, want 1", n, h.clock.Since(epoch))
	}
	if n := h.logs.FilterMessage("IMDS request failed").Len(); n != 4 {
		t.Errorf("failure warnings = %d, want one per path (4)", n)
	}
	h.clock.Step(hintInterval)
	h.waitCycles(h.cycles() + 1)
	if n := h.logs.FilterMessageSnippet("403 Forbidden").Len(); n != 2 {
		t.Errorf("hint logged %d times after %v, want 2", n, h.clock.Since(epoch))
	}
}

// body returns a handler that answers 200 with s.
func body(s string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(s)) }
}

// hangUp closes the connection without answering.
func hangUp(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// cutShort promises a longer body than it sends, then closes.
func cutShort(w http.ResponseWriter, r *http.Request) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	writeRaw(buf, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"action\":")
}

// writeRaw writes s to a hijacked connection.
func writeRaw(buf *bufio.ReadWriter, s string) {
	buf.WriteString(s)
	buf.Flush()
}
