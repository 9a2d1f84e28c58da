package drain

import "strings"

// Sources of a notice, as NodeNotice.Source and Request.Source name them
// (the values of the state machine's sources). The agent acts on SourceIMDS
// and SourceRehearsal, the queue-mode controller on SourceQueue: those are
// the two sides that may hold a notice on one node at once (mode both).
const (
	// SourceIMDS is the DaemonSet agent's instance metadata.
	SourceIMDS = "imds"
	// SourceQueue is the queue-mode controller's EventBridge messages.
	SourceQueue = "sqs"
	// SourceRehearsal is `spot-handler rehearse`, acted on by the agent.
	SourceRehearsal = "rehearsal"
)

// The notice ID prefixes that tell the source of a record written before
// NodeNotice.Source existed: pkg/queue's IDPrefix and the agent's rehearsal
// IDs (their tests check they agree).
const (
	legacyQueuePrefix     = "queue/"
	legacyRehearsalPrefix = "rehearsal-"
)

// SourceOf returns the source that holds n: its Source, or for a record
// from before that field, the source its ID names (SourceIMDS unless it is
// a queue's or a rehearsal's).
func SourceOf(n NodeNotice) string {
	switch {
	case n.Source != "":
		return n.Source
	case legacyID(n.ID, legacyQueuePrefix):
		return SourceQueue
	case legacyID(n.ID, legacyRehearsalPrefix):
		return SourceRehearsal
	}
	return SourceIMDS
}

// source returns req.Source, or when it is empty the source its notice ID
// names, as for a record (SourceOf).
func (req Request) source() string {
	if req.Source != "" {
		return req.Source
	}
	return SourceOf(NodeNotice{ID: req.NoticeID})
}

// legacyID reports whether id is prefix followed by more.
func legacyID(id, prefix string) bool { return len(id) > len(prefix) && strings.HasPrefix(id, prefix) }

// side names who acts on notices of source: the controller for SourceQueue,
// the agent for any other. A node's record holds at most one notice per side.
func side(source string) string {
	if source == SourceQueue {
		return "controller"
	}
	return "agent"
}

// Held returns the notice in the record that source's side holds (the
// agent's for SourceIMDS or SourceRehearsal, the controller's for
// SourceQueue), without its Others; nil if that side holds none or n is nil.
func (n *NodeNotice) Held(source string) *NodeNotice {
	for _, h := range n.all() {
		if side(SourceOf(h)) == side(source) {
			return &h
		}
	}
	return nil
}

// all returns the record's notices, each without Others: n itself first.
func (n *NodeNotice) all() []NodeNotice {
	if n == nil {
		return nil
	}
	first := *n
	first.Others = nil
	return append([]NodeNotice{first}, n.Others...)
}

// otherSide returns the notices of n that the side other than source's
// holds.
func (n *NodeNotice) otherSide(source string) []NodeNotice {
	var out []NodeNotice
	for _, h := range n.all() {
		if side(SourceOf(h)) != side(source) {
			out = append(out, h)
		}
	}
	return out
}
