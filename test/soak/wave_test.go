package soak

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/testenv"
)

// waveResult is what a wave leaves: its scenarios' outcomes and its own
// problems (controllers, another cluster's instance).
type waveResult struct {
	outcomes []Outcome
	problems []string
}

// runWave plays wave: sets up its nodes, starts every notice from one
// start time, puts the wave's controller faults in place, and checks.
func (w *world) runWave(wave int) waveResult {
	wf := DrawWave(w.opt.seed, wave, w.opt.limits)
	var nodes []int
	for n := range w.opt.nodes {
		if w.opt.only == nil || (w.opt.only[0] == wave && w.opt.only[1] == n) {
			nodes = append(nodes, n)
		}
	}
	w.t.Logf("wave %d: %d nodes; %s", wave, len(nodes), wf)
	runs := make([]*run, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, n := range nodes {
		sc := Draw(w.opt.seed, wave, n, w.opt.limits)
		w.t.Logf("  %s", sc)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			runs[i], errs[i] = w.setup(sc)
		})
	}
	wg.Wait()
	var res waveResult
	defer func() {
		for _, r := range runs {
			if r != nil {
				r.teardown()
			}
		}
	}()
	for i, err := range errs {
		if err != nil {
			res.problems = append(res.problems, fmt.Sprintf("wave %d node %d: setting up: %v", wave, nodes[i], err))
		}
	}
	if len(res.problems) > 0 {
		return res
	}
	t0 := time.Now().Add(10 * time.Second) // IMDS faults may begin up to 10 s before a notice
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	var faults sync.WaitGroup
	if w.anyQueued(runs) || w.opt.only != nil { // a replay keeps its wave's controller fault
		faults.Go(func() { w.controllerFault(ctx, wf, t0) })
	}
	var foreign string
	if wf.Foreign {
		faults.Go(func() { foreign = w.foreignAction(ctx, wave, t0) })
	}
	outs := make([]Outcome, len(runs))
	for i, r := range runs {
		wg.Go(func() { outs[i] = r.play(t0) })
	}
	wg.Wait()
	cancel()
	faults.Wait()
	res.outcomes = outs
	if foreign != "" {
		w.foreign = append(w.foreign, foreignToken{wave, foreign})
		res.problems = append(res.problems, w.checkForeign(wave, foreign)...)
	}
	for _, c := range w.ctrls {
		for _, p := range c.problems() {
			res.problems = append(res.problems, fmt.Sprintf("wave %d: %s", wave, p))
		}
		c.forgetProblems()
		if c.current().Exited() {
			if err := c.restart(); err != nil {
				res.problems = append(res.problems, fmt.Sprintf("wave %d: restarting %s: %v", wave, c.what, err))
			}
		}
		c.proxy.ClearLog()
	}
	return res
}

// anyQueued reports whether a run of the wave goes through the queue.
func (w *world) anyQueued(runs []*run) bool {
	for _, r := range runs {
		if r.sc.Mode != Agent {
			return true
		}
	}
	return false
}

// controllerFault carries out the wave's controller fault.
func (w *world) controllerFault(ctx context.Context, wf WaveFaults, t0 time.Time) {
	if wf.Controller == "none" {
		return
	}
	w.t.Logf("controller fault %s due at +%v", wf.Controller, wf.At.Round(time.Millisecond))
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Until(t0.Add(wf.At))):
	}
	switch wf.Controller {
	case "leader-kill":
		if l := w.leader(); l == nil {
			w.t.Logf("leader-kill not applied: no replica says it leads")
		} else {
			l.kill()
			w.t.Logf("controller %s (leader) SIGKILLed", l.name)
			time.Sleep(wf.For)
			if err := l.restart(); err != nil {
				w.t.Logf("restarting %s: %v", l.name, err)
			}
		}
	case "lease-hang":
		if l := w.leader(); l == nil {
			w.t.Logf("lease-hang not applied: no replica says it leads")
		} else {
			f := l.proxy.Add(testenv.Rule{Match: testenv.Match{Method: "PUT", Path: `/leases/` + regexp.QuoteMeta(w.lease) + `$`}, Hang: true})
			w.t.Logf("controller %s (leader): Lease renewals hang for %v", l.name, wf.For)
			sleepCtx(ctx, wf.For)
			f.Release()
		}
	case "burst-503":
		undo := w.addControllerRule(testenv.Rule{Status: 503})
		sleepCtx(ctx, wf.For)
		undo()
	case "sqs-pause":
		if err := moto.Pause(); err != nil {
			w.t.Logf("sqs-pause not applied: %v", err)
			return
		}
		sleepCtx(ctx, wf.For)
		_ = moto.Resume()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// foreignAction begins a terminate action for an instance of another
// cluster's group (no node here) and sends its message at t0; it returns
// the action's token ("" if moto refused).
func (w *world) foreignAction(ctx context.Context, wave int, t0 time.Time) string {
	group := fmt.Sprintf("other-cluster-%s-w%d", w.opt.name, wave)
	insts, err := moto.CreateGroup(ctx, group, 1)
	if err != nil {
		w.t.Logf("foreign group: %v", err)
		return ""
	}
	if err := moto.TagGroup(ctx, group, map[string]string{"kubernetes.io/cluster/other-" + w.opt.name: "owned"}); err != nil {
		w.t.Logf("foreign group's tag: %v", err)
		return ""
	}
	if err := putHook(ctx, w, group); err != nil {
		w.t.Logf("foreign hook: %v", err)
		return ""
	}
	token, err := moto.BeginLifecycleAction(group, "drain", insts[0].ID, lifecycle.Terminating)
	if err != nil {
		w.t.Logf("foreign action: %v", err)
		return ""
	}
	sleepCtx(ctx, time.Until(t0))
	w.send(ctx, lifecycleBody(group, insts[0].ID, token, time.Now()))
	return token
}

// checkForeign names every lifecycle call made for another cluster's
// action.
func (w *world) checkForeign(wave int, token string) []string {
	calls, err := moto.LifecycleCalls()
	if err != nil {
		return []string{fmt.Sprintf("wave %d: reading moto's lifecycle calls: %v", wave, err)}
	}
	var out []string
	for _, c := range calls {
		if c.Token == token {
			out = append(out, fmt.Sprintf("wave %d: %s %s for another cluster's instance %s (replay: make soak SEED=%d ONLY=%d:0)",
				wave, c.Action, c.Result, c.Instance, w.opt.seed, wave))
		}
	}
	return out
}

// footprint reads each live replica's goroutines and heap after a wave.
func (w *world) footprint(wave int) []Footprint {
	var out []Footprint
	for _, c := range w.ctrls {
		cur := c.current()
		g, err1 := cur.Metric("go_goroutines")
		h, err2 := cur.Metric("go_memstats_heap_inuse_bytes")
		if err1 != nil || err2 != nil {
			continue
		}
		l, _ := cur.Metric("spot_handler_leader")
		out = append(out, Footprint{Wave: wave, Replica: c.name, PID: cur.PID(), Goroutines: g, HeapMiB: h / (1 << 20), Leader: l == 1})
	}
	return out
}
