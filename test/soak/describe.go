package soak

import (
	"fmt"
	"strings"
	"time"
)

// String describes the scenario in full, one clause a dimension.
func (s Scenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s (seed %d): mode %s, signal %s", s.ID(), s.Seed, s.Mode, s.Signal)
	if s.StateName != "" {
		fmt.Fprintf(&b, " (%s)", s.StateName)
	}
	fmt.Fprintf(&b, ", notice +%v", s.Jitter.Round(time.Millisecond))
	w := s.Workload
	for _, d := range w.Deployments {
		fmt.Fprintf(&b, "; deployment %d×grace %ds pdb %s", d.Replicas, d.Grace, d.PDB)
		if d.Priority != "" {
			fmt.Fprintf(&b, " priority %s", d.Priority)
		}
	}
	fmt.Fprintf(&b, "; bare %d, statefulset %d, daemonset %v, late %d, deleted by others %d, room elsewhere %v",
		w.BarePods, w.StatefulSet, w.DaemonSet, w.LatePods, w.Deleted, w.Room)
	q := s.Queue
	if q.Duplicates > 0 || q.OutOfOrder || q.RebalanceAfter {
		fmt.Fprintf(&b, "; queue: %d duplicates, out-of-order %v, rebalance after %v", q.Duplicates, q.OutOfOrder, q.RebalanceAfter)
	}
	for _, f := range s.API {
		fmt.Fprintf(&b, "; API %s", f.Kind)
		if f.Times > 0 {
			fmt.Fprintf(&b, " ×%d after the cordon", f.Times)
		} else {
			fmt.Fprintf(&b, " at +%v for %v", f.At.Round(time.Millisecond), f.For.Round(time.Millisecond))
		}
	}
	for _, f := range s.IMDS {
		fmt.Fprintf(&b, "; IMDS %s at %+v for %v", f.Kind, f.At.Round(time.Millisecond), f.For.Round(time.Millisecond))
	}
	for _, f := range s.Proc {
		if f.Kind == "kill" {
			fmt.Fprintf(&b, "; agent SIGKILL at +%v, restart %v later", f.At.Round(time.Millisecond), f.Restart.Round(time.Millisecond))
		} else {
			fmt.Fprintf(&b, "; agent SIGSTOP at +%v for %v", f.At.Round(time.Millisecond), f.For)
		}
	}
	return b.String()
}
