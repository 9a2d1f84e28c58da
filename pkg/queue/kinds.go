package queue

import (
	"cmp"
	"slices"
)

// EventKind is one kind of EventBridge event Parse has a parser for.
type EventKind struct {
	// Source and DetailType are the event's source and detail-type, as an
	// EventBridge rule matches them.
	Source, DetailType string
	// Type is the Message type Parse gives such an event (a Type constant).
	Type string
}

// EventKinds lists the kinds of event Parse reads, sorted by source, then
// detail-type. It is read from the parsers' table, so rules built from it
// (see `spot-handler controller setup`) forward exactly what Parse knows.
func EventKinds() []EventKind {
	out := make([]EventKind, 0, len(parsers))
	for k, p := range parsers {
		out = append(out, EventKind{Source: k.source, DetailType: k.detailType, Type: p.typ})
	}
	slices.SortFunc(out, func(a, b EventKind) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.DetailType, b.DetailType))
	})
	return out
}
