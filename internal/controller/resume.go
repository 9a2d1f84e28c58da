package controller

import (
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// resume hands every node whose notice record a controller wrote to its
// actor, which resumes the drain with the recorded deadline (the machine
// runs with ResumeRecorded). It reads the node index, not the API, and
// returns how many it resumed.
func (c *Controller) resume(as *actors) int {
	n := 0
	for _, obj := range c.inf.GetIndexer().List() {
		node, ok := obj.(*corev1.Node)
		if !ok {
			continue
		}
		rec, err := drain.ReadNotice(node)
		if err != nil {
			c.log.Error("a node's notice record is unreadable; leaving it", zap.String("node", node.Name), zap.Error(err))
			continue
		}
		r, ok := recorded(rec)
		if !ok {
			continue
		}
		c.log.Info("resuming the drain recorded on the node", zap.String("node", node.Name), zap.String("notice_id", r.ID),
			zap.Time("deadline", r.Deadline))
		a := as.get(node.Name)
		a.marked = true // the record is on the node
		as.post(node.Name, interrupt.Resumed{Record: &r})
		n++
	}
	c.resumeWaits(as) // wait.go
	return n
}

// recordedOn reports whether the node index shows a controller's notice
// record on node (written by a drain that cordoned on a worker).
func (c *Controller) recordedOn(node string) bool {
	obj, ok, err := c.inf.GetIndexer().GetByKey(node)
	if err != nil || !ok {
		return false
	}
	rec, err := drain.ReadNotice(obj.(*corev1.Node))
	return err == nil && rec.Held(drain.SourceQueue) != nil
}
