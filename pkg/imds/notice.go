package imds

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Kind names the signal a [Notice] carries.
type Kind string

const (
	// SpotInterruption is a Spot instance-action: the instance will be
	// terminated, stopped or hibernated at the notice's Deadline (about two
	// minutes after it appears).
	SpotInterruption Kind = "SpotInterruption"
	// RebalanceRecommendation says the instance is at elevated risk of
	// interruption. It carries no deadline.
	RebalanceRecommendation Kind = "RebalanceRecommendation"
	// ScheduledMaintenance is one scheduled event (reboot, stop, retirement,
	// maintenance) that starts no earlier than the notice's Deadline.
	ScheduledMaintenance Kind = "ScheduledMaintenance"
	// ASGTermination says the Auto Scaling group moved the instance's target
	// lifecycle state to Terminated.
	ASGTermination Kind = "ASGTermination"
)

// Notice is one signal from instance metadata.
type Notice struct {
	// Kind is the signal's type.
	Kind Kind
	// ID is stable and derived from content: the kind and the fields that
	// identify the signal (spot action and time; rebalance noticeTime;
	// maintenance EventId and NotBefore; ASG state). A changed notice has a
	// new ID. IDs are printable ASCII of at most 200 bytes.
	ID string
	// Action is, for spot, the instance action (terminate, stop or
	// hibernate); for maintenance, the event Code (e.g. instance-stop,
	// system-reboot); for ASG, "Terminated"; for rebalance, "".
	Action string
	// Deadline is, for spot, the action's time; for maintenance, NotBefore.
	// It is zero for rebalance and ASG, for which IMDS gives no deadline.
	Deadline time.Time
	// NoticeTime is the rebalance recommendation's noticeTime; zero for
	// other kinds.
	NoticeTime time.Time
	// Detected is the watcher's clock time when it first saw this notice (or,
	// for a cancellation, when it first saw the withdrawal).
	Detected time.Time
	// Canceled is true when an earlier notice with the same ID is withdrawn:
	// a maintenance event became canceled or completed or left the list, or a
	// spot instance-action disappeared or changed after it was delivered.
	Canceled bool
	// Description is human text, such as the maintenance event's
	// Description.
	Description string
}

// maxIDLen bounds a readable ID; longer ones are replaced by a digest.
const maxIDLen = 200

// noticeID joins kind and parts with "/". If the result would be long,
// contain a byte outside printable ASCII, or be ambiguous (a part that
// contains "/"), it returns kind + "/sha256:" + a digest of the parts
// instead, so IDs stay short, safe to store and collision-free.
func noticeID(kind Kind, parts ...string) string {
	var b strings.Builder
	b.WriteString(string(kind))
	readable := true
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(p)
		if strings.IndexByte(p, '/') >= 0 {
			readable = false
		}
	}
	id := b.String()
	if readable && len(id) <= maxIDLen && printable(id) {
		return id
	}
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return string(kind) + "/sha256:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// idTime formats t for an ID: UTC, RFC 3339, with fractions only if present.
func idTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// printable reports whether s is non-empty printable ASCII without spaces.
func printable(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// token reports whether s is a short identifier-like value as IMDS uses for
// actions, codes, states and event IDs: printable ASCII, no spaces, at most
// 128 bytes.
func token(s string) bool {
	return len(s) <= 128 && printable(s)
}
