package soak

import (
	"context"
	"regexp"
	"strconv"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// scheduleFaults puts the scenario's API, IMDS and process faults in place
// at their times after the notice.
func (r *run) scheduleFaults(ctx context.Context, notice time.Time) {
	for _, f := range r.sc.API {
		for _, rule := range r.apiRules(f) {
			if f.Times > 0 { // armed by the node's cordon, counted
				r.release(r.addAPIRule(rule))
				r.note("API %s armed (×%d after the cordon)", f.Kind, f.Times)
				continue
			}
			r.window(ctx, notice.Add(f.At), f.For, "API "+f.Kind, func() func() { return r.addAPIRule(rule) })
		}
	}
	for _, f := range r.sc.IMDS {
		rule := imdsRule(f)
		r.window(ctx, notice.Add(f.At), f.For, "IMDS "+f.Kind, func() func() { return r.imds.Add(rule).Release })
	}
	for _, f := range r.sc.Proc {
		switch f.Kind {
		case "kill":
			r.at(ctx, notice.Add(f.At), func() {
				r.agent.kill()
				r.note("agent SIGKILLed")
				time.Sleep(f.Restart)
				if err := r.agent.restart(); err != nil {
					r.note("agent restart failed: %v", err)
					return
				}
				r.note("agent restarted")
			})
		case "stop":
			r.at(ctx, notice.Add(f.At), func() {
				r.note("agent SIGSTOPped")
				r.agent.pause(f.For)
				r.note("agent SIGCONTed")
			})
		}
	}
}

// window puts a fault in place at from and takes it away d later (or at
// teardown, whichever comes first).
func (r *run) window(ctx context.Context, from time.Time, d time.Duration, what string, add func() func()) {
	r.at(ctx, from, func() {
		undo := add()
		r.release(undo)
		r.note("%s begins", what)
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
		undo()
		r.note("%s ends", what)
	})
}

// addAPIRule puts rule on the handler's API connection: the agent's own
// proxy, or every controller replica's (whichever leads meets it).
func (r *run) addAPIRule(rule testenv.Rule) func() {
	var undo []func()
	if r.sc.Mode != Controller {
		undo = append(undo, r.api.Add(rule).Release)
	}
	if r.sc.Mode != Agent {
		undo = append(undo, r.w.addControllerRule(rule))
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}

// apiRules are the proxy rules of f, scoped to the scenario's node and
// namespace (the controller's connection serves every node).
func (r *run) apiRules(f APIFault) []testenv.Rule {
	node, ns := regexp.QuoteMeta(r.node), regexp.QuoteMeta(r.ns)
	nodePath := `^/api/v1/nodes/` + node + `$`
	switch f.Kind {
	case "list-503":
		return []testenv.Rule{{Match: testenv.Match{Method: "GET", Path: `^/api/v1/pods$`, Query: "spec.nodeName=" + r.node},
			After: &testenv.Match{Method: "PATCH", Path: nodePath}, Times: f.Times, Status: f.Status}}
	case "evict-500", "evict-429":
		return []testenv.Rule{{Match: testenv.Match{Method: "POST", Path: `^/api/v1/namespaces/` + ns + `/pods/[^/]+/eviction$`}, Status: f.Status}}
	case "patch-hang":
		return []testenv.Rule{{Match: testenv.Match{Method: "PATCH", Path: nodePath}, Hang: true}}
	case "burst-503":
		if r.sc.Mode == Agent { // the agent's own proxy: everything
			return []testenv.Rule{{Status: 503}}
		}
		return []testenv.Rule{
			{Match: testenv.Match{Path: `^/apis/(apps|policy)/v1/namespaces/` + ns + `/`}, Status: 503},
			{Match: testenv.Match{Path: `^/api/v1/nodes/` + node + `(/|$)`}, Status: 503},
			{Match: testenv.Match{Path: `^/api/v1/namespaces/` + ns + `/`}, Status: 503},
			{Match: testenv.Match{Path: `^/api/v1/pods$`, Query: "spec.nodeName=" + r.node}, Status: 503},
		}
	case "watch-cut":
		return []testenv.Rule{{Match: testenv.Match{Method: "GET", Query: "spec.nodeName=" + r.node}, Cut: 2 * time.Second}}
	}
	return nil
}

// imdsRule is the IMDS fault's rule: a status on every request (401 on
// reads only: a token that no longer works), a hang, or a reset.
func imdsRule(f IMDSFault) testenv.Rule {
	switch f.Kind {
	case "hang":
		return testenv.Rule{Hang: true}
	case "reset":
		return testenv.Rule{Reset: true}
	case "401":
		return testenv.Rule{Match: testenv.Match{Method: "GET"}, Status: 401}
	}
	code, _ := strconv.Atoi(f.Kind)
	return testenv.Rule{Status: code}
}
