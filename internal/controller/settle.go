package controller

import (
	"sync"

	"github.com/spot-handler/spot-handler/internal/metrics"
)

// maxSettled bounds the messages whose settled instances are remembered.
const maxSettled = 256

// settledLookups remembers, per message ID (stable across deliveries), the
// instances already handled for it, so a redelivered multi-instance
// message (a Health event naming 1000 instances, one of them unknown) does
// not look them up again. Bounded: at most maxSettled messages, each
// forgotten once deleted; past the bound the oldest are dropped (their
// lookups then simply run again).
type settledLookups struct {
	mu    sync.Mutex
	byMsg map[string]map[string]string // message ID → instance → outcome
	order []string
}

func (s *settledLookups) get(msg string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.byMsg[msg] {
		out[k] = v
	}
	return out
}

func (s *settledLookups) put(msg string, settled map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byMsg == nil {
		s.byMsg = map[string]map[string]string{}
	}
	if _, ok := s.byMsg[msg]; !ok {
		s.order = append(s.order, msg)
	}
	s.byMsg[msg] = settled
	for len(s.order) > maxSettled {
		delete(s.byMsg, s.order[0])
		s.order = s.order[1:]
	}
}

func (s *settledLookups) forget(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byMsg[msg]; !ok {
		return
	}
	delete(s.byMsg, msg)
	for i, m := range s.order {
		if m == msg {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

// settles reports whether outcome o settles an instance for its message:
// it is this cluster's and handled. Unknown, foreign, failed and re-check
// outcomes are looked up again.
func settles(o string) bool {
	return o == metrics.QueueHandled || o == metrics.QueueAgentDraining
}

// othersOnly reports whether a multi-instance message may go although not
// every instance allows it: every instance of this cluster is handled, and
// the rest are only other clusters' (kept per --delete-unknown=false).
// Those are another cluster's business; nothing here waits on them.
func othersOnly(outcomes []string) bool {
	ours, kept := false, false
	for _, o := range outcomes {
		switch o {
		case metrics.QueueHandled, metrics.QueueAgentDraining:
			ours = true
		case metrics.QueueUnknownKept:
			kept = true
		case metrics.QueueIgnored, metrics.QueueUnknownInstance:
		default:
			return false // failed or re-check: the message comes back
		}
	}
	return ours && kept
}
