package bench

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"
)

// faultRotation is the order of a burst, as in issue #16: HTTP statuses
// (AEMM itself answers only 200, 404 and the IMDSv2 errors), requests that
// get no answer, and connections reset.
var faultRotation = []string{"503", "500", "429", "401", faultHang, faultReset}

// Faults other than a status.
const (
	faultHang  = "hang"
	faultReset = "reset"
)

// faultProxy is an httptest server on 127.0.0.1 in front of AEMM. Outside
// a burst it forwards every request; during one, every request (the token
// PUT included, except under 401, where tokens are issued and then
// refused) meets the fault of the moment. It counts the requests that reach
// it and notes when the first one came.
type faultProxy struct {
	srv   *httptest.Server
	proxy *httputil.ReverseProxy

	mu     sync.Mutex
	start  time.Time     // of the burst; zero: none armed
	each   time.Duration // each fault's share of the burst
	faults []string
	first  time.Time      // the first request
	counts map[string]int // requests by the fault they met ("" = forwarded)
}

// newFaultProxy starts a proxy to target (AEMM's URL), stopped in cleanup.
func newFaultProxy(b *testing.B, target string) *faultProxy {
	b.Helper()
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	p := &faultProxy{proxy: httputil.NewSingleHostReverseProxy(u), counts: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	b.Cleanup(p.srv.Close)
	return p
}

// URL is the endpoint to give the agent.
func (p *faultProxy) URL() string { return p.srv.URL }

// arm schedules a burst of faults from start, each lasting each.
func (p *faultProxy) arm(start time.Time, each time.Duration, faults []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start, p.each, p.faults = start, each, faults
}

// faultAt returns the fault in force at t, or "".
func (p *faultProxy) faultAt(t time.Time) string {
	if p.start.IsZero() || t.Before(p.start) {
		return ""
	}
	i := int(t.Sub(p.start) / p.each)
	if i >= len(p.faults) {
		return ""
	}
	return p.faults[i]
}

// firstRequest returns when the first request arrived (zero if none).
func (p *faultProxy) firstRequest() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first
}

// perSecond returns, for each fault of the burst, the requests that met it
// per second of its share.
func (p *faultProxy) perSecond() map[string]float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := map[string]int{}
	for _, f := range p.faults {
		n[f]++
	}
	out := map[string]float64{}
	for f, k := range n {
		out[f] = float64(p.counts[f]) / (float64(k) * p.each.Seconds())
	}
	return out
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	p.mu.Lock()
	if p.first.IsZero() {
		p.first = now
	}
	kind := p.faultAt(now)
	if kind == "401" && r.Method == http.MethodPut {
		kind = ""
	}
	p.counts[kind]++
	p.mu.Unlock()
	switch kind {
	case "":
		p.proxy.ServeHTTP(w, r)
	case faultHang:
		select { // no answer until the client gives up
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	case faultReset:
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0) // RST, not FIN
			}
			conn.Close()
		}
	default:
		code, _ := strconv.Atoi(kind)
		http.Error(w, fmt.Sprintf("<html>%d - %s</html>", code, http.StatusText(code)), code)
	}
}
