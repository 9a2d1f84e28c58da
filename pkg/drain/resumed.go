package drain

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
)

// recorderID names one Drainer in NodeNotice.By: its claim holder (the
// agent's pod, which a restarted agent shares) and a random suffix, so a
// new process (a restarted agent in the same pod, another leader) is never
// taken for the one that recorded the notice.
func recorderID(holder string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return holder + "@" + hex.EncodeToString(b)
}

// continues reports whether a drain of req continues a drain started
// before it, given the record on the node when the drain first read it
// (nil: none): req's side's notice in it is req's notice, for a drain (not
// a taint only), and it was written by another Drainer (an earlier process,
// or a record from before NodeNotice.By existed), or self already ran a
// drain of it that ended (died or was stopped). A record self wrote with
// Cordon just before this drain is this drain's own.
func continues(rec *NodeNotice, req Request, self string, ranBefore bool) bool {
	rec = rec.Held(req.Source)
	if rec == nil || rec.TaintOnly || rec.ID != req.NoticeID || rec.Kind != req.Kind {
		return false
	}
	return rec.By != self || ranBefore
}

// runs remembers, per node, the notice of the last drain this Drainer ran
// past its cordon, so a second drain of that notice (after a panic, or a
// restart with an earlier deadline) knows it continues one. Uncordon
// forgets the node, and so does Forget (the node is gone).
type runs struct {
	mu     sync.Mutex
	notice map[string]string // node → notice ID
}

// ran reports whether a drain of notice id on node ran before.
func (r *runs) ran(node, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.notice[node]
	return ok && v == id
}

// start records that a drain of notice id on node got past its cordon.
func (r *runs) start(node, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.notice == nil {
		r.notice = map[string]string{}
	}
	r.notice[node] = id
}

// forget drops node's record: its marks are gone.
func (r *runs) forget(node string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.notice, node)
}
