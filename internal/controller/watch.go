package controller

import "github.com/spot-handler/spot-handler/internal/interrupt"

// A drain that emptied its node watches it on until deadline − margin
// (drain.Request.OnEmpty), draining any pod that lands there. Its end is
// reported to the machine at the first empty moment (an ASG lifecycle
// action is completed then) and its worker goes to the next drain
// (job.release). The actor keeps such drains apart from the running ones
// (actor.watches) and stops them before anything else touches the node (a
// new drain, a taint, an uncordon), when the node is gone and when
// leadership ends.

// ended takes drain e.Seq off the running drains; one that emptied the node
// and still runs is watching it.
func (a *actor) ended(e interrupt.DrainEnded) {
	if j, ok := a.jobs[e.Seq]; ok && e.Outcome == interrupt.Emptied && !j.over() {
		if a.watches == nil {
			a.watches = map[int]*job{}
		}
		a.watches[e.Seq] = j
	}
	delete(a.jobs, e.Seq)
}

// stopWatchesFor stops the watches, and waits for them to end, before an
// action that starts a drain or changes the node's marks.
func (a *actor) stopWatchesFor(act interrupt.Action) {
	switch act.(type) {
	case interrupt.StartDrain, interrupt.RestartDrain, interrupt.TaintNode, interrupt.UncordonNode:
		a.stopWatches(true)
	}
}

// stopWatches cancels the watches and, if wait, waits for them to end.
func (a *actor) stopWatches(wait bool) {
	for seq, j := range a.watches {
		j.cancel()
		if wait {
			<-j.done
		}
		delete(a.watches, seq)
	}
}

// over reports whether j's run has returned.
func (j *job) over() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}
