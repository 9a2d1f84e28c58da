package lifecycle

import "time"

// MaxGlobalTimeout is the longest a hook holds an instance however many
// heartbeats it gets: 48 hours, or 100 times the heartbeat timeout if that
// is less (Amazon EC2 Auto Scaling User Guide, "Amazon EC2 Auto Scaling
// lifecycle hooks": "the maximum amount of time that you can keep an
// instance in a wait state is 48 hours or 100 times the heartbeat timeout,
// whichever is smaller").
const MaxGlobalTimeout = 48 * time.Hour

// MinInterval is the shortest interval between heartbeats.
const MinInterval = time.Second

// Hook is what the package needs of a lifecycle hook.
type Hook struct {
	// HeartbeatTimeout is how long the hook holds an instance after the
	// action begins or after the last heartbeat.
	HeartbeatTimeout time.Duration
	// GlobalTimeout is the longest the hook holds it in all.
	GlobalTimeout time.Duration
}

// unknownHook is assumed when a hook's timeouts cannot be read: the
// shortest heartbeat timeout Auto Scaling allows (30 s), so heartbeats come
// often enough for any hook, and the global timeout that goes with it.
var unknownHook = Hook{HeartbeatTimeout: 30 * time.Second, GlobalTimeout: 100 * 30 * time.Second}

// global is the hook's effective global timeout: the reported one (moto
// always reports 48 h), bounded by 100 × the heartbeat timeout and 48 h.
func (h Hook) global() time.Duration {
	g := min(100*h.HeartbeatTimeout, MaxGlobalTimeout)
	if h.GlobalTimeout > 0 {
		g = min(g, h.GlobalTimeout)
	}
	return g
}

// deadline is when an action begun at start must be complete, given the
// longest the caller wants to wait (0: as long as the hook allows).
func (h Hook) deadline(start time.Time, wait time.Duration) time.Time {
	g := h.global()
	if wait > 0 {
		g = min(g, wait)
	}
	return start.Add(g)
}

// Schedule says when to send the heartbeats of one action. It is a pure
// value: the Manager asks it, the clock is the caller's.
type Schedule struct {
	// Timeout is the hook's heartbeat timeout.
	Timeout time.Duration
	// Interval is the time between heartbeats: a fraction of Timeout, at
	// least MinInterval, so one or two lost heartbeats still leave the
	// instance held.
	Interval time.Duration
	// Start is when the action began; the hook never holds it past
	// Start + its global timeout.
	Start time.Time
	// Global is the hook's effective global timeout.
	Global time.Duration
	// Deadline is when the action is to be complete; no heartbeat is
	// sent for time after it.
	Deadline time.Time
}

// newSchedule is the schedule of an action of hook h begun at start that
// must be complete by deadline; fraction is the part of the heartbeat
// timeout between heartbeats, in (0, 1).
func newSchedule(h Hook, start, deadline time.Time, fraction float64) Schedule {
	iv := max(time.Duration(float64(h.HeartbeatTimeout)*fraction), MinInterval)
	return Schedule{Timeout: h.HeartbeatTimeout, Interval: iv, Start: start, Global: h.global(), Deadline: deadline}
}

// Expires is when the hook lets the instance go if no heartbeat follows
// the one accepted at last (or the action's start).
func (s Schedule) Expires(last time.Time) time.Time {
	return minTime(last.Add(s.Timeout), s.Start.Add(s.Global))
}

// Next returns when the heartbeat after the one accepted at last (or the
// action's start) is due, and false when none is needed: the hold from last
// already lasts an interval past the deadline, leaving time to complete.
func (s Schedule) Next(last time.Time) (time.Time, bool) {
	if !last.Add(s.Timeout).Before(s.Deadline.Add(s.Interval)) {
		return time.Time{}, false
	}
	return last.Add(s.Interval), true
}

// Retry is when to try again after a heartbeat failed at now: soon enough
// for several tries before the hold expires.
func (s Schedule) Retry(now time.Time) time.Time {
	return now.Add(max(s.Interval/6, MinInterval))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
