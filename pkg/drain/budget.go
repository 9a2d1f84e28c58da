package drain

import "time"

// defaultGrace is Kubernetes' default terminationGracePeriodSeconds.
const defaultGrace = 30 * time.Second

// ownGrace is the grace period a pod asks for.
func ownGrace(seconds *int64) time.Duration {
	if seconds == nil {
		return defaultGrace
	}
	return time.Duration(*seconds) * time.Second
}

// gracePeriod is the grace period to give a pod evicted or deleted at now:
// min(its own, deadline − margin − kill slack − now), never below
// p.MinGrace, in whole seconds rounded down, so the pod is gone by
// deadline − margin.
func gracePeriod(own time.Duration, now, deadline time.Time, p Policy) int64 {
	g := own
	if left := deadline.Add(-p.Margin - p.KillSlack).Sub(now); left < g {
		g = left
	}
	if g < p.MinGrace {
		g = p.MinGrace
	}
	return int64(g / time.Second)
}

// shortenTo is the grace period to cut a terminating pod's down to, so it
// ends before deadline − margin as an evicted pod does, and whether to cut
// it at all. Only a deletion that would end after deadline − margin − kill
// slack (deletionAt, the pod's deletionTimestamp) is cut, and only when the
// API takes the new period: it only ever shortens one, comparing it with
// the period the deletion asked (deletionGrace). A deletion without a
// period (nil or 0: a forced one) is left alone. The period counts from now
// (the kubelet restarts its countdown with the shorter period); the API
// counts it from the first deletion, so the pod may get less, never more.
func shortenTo(deletionAt time.Time, deletionGrace *int64, now, deadline time.Time, p Policy) (int64, bool) {
	if deletionGrace == nil || *deletionGrace <= 0 || !deletionAt.After(deadline.Add(-p.Margin-p.KillSlack)) {
		return 0, false
	}
	g := gracePeriod(deletionAt.Sub(now), now, deadline, p)
	if g >= *deletionGrace {
		return 0, false
	}
	return g, true
}

// cutoff is the latest moment a PDB-blocked pod can still be terminated
// gracefully: deadline − margin − kill slack − the time it needs, where the time it needs
// is its own grace period but at most half of the time the drain had when it
// started (a pod asking 600s of a 105s budget cannot have it, and waiting
// half the budget for its PDB is the fair split), and at least p.MinGrace.
func cutoff(own time.Duration, started, deadline time.Time, p Policy) time.Time {
	end := deadline.Add(-p.Margin - p.KillSlack)
	need := own
	if half := end.Sub(started) / 2; half < need {
		need = half
	}
	if need < p.MinGrace {
		need = p.MinGrace
	}
	return end.Add(-need)
}

// lateWindow is how long a drain still tries when its notice came too late
// to empty the node before deadline − margin: p.LateWindow, and at least
// the shortest grace, the kill slack, and a second for the API.
func lateWindow(p Policy) time.Duration {
	return max(p.LateWindow, p.MinGrace+p.KillSlack+time.Second)
}

// waitEnd is when a drain that starts at now stops waiting: deadline −
// margin, or, for a notice that came too late for that, now + lateWindow
// (the instance is usually still alive for a few seconds, and a pod stopped
// with SIGTERM beats one killed with its node).
func waitEnd(deadline, now time.Time, p Policy) time.Time {
	end := deadline.Add(-p.Margin)
	if late := now.Add(lateWindow(p)); end.Before(late) {
		return late
	}
	return end
}
