// Package lifecycle holds and releases Auto Scaling lifecycle actions for
// the controller: an instance that a termination hook keeps in
// Terminating:Wait is released (CompleteLifecycleAction CONTINUE) as soon as
// its node is empty, and kept with RecordLifecycleActionHeartbeat while the
// drain runs; an instance a launch hook keeps in Pending:Wait is released
// once its node is Ready, or abandoned after the launch timeout.
//
// The action's token, hook and group are written on the node (annotation
// ActionAnnotation) before the controller deletes the message, so a new
// leader resumes the heartbeats and completes the action (Manager.Resume).
//
// How the controller uses it, for a terminate action of a node:
//
//	rec, err := m.Start(leaderCtx, node, action) // records, starts heartbeats
//	// ...cordon with rec.Deadline, delete the message, drain...
//	err = m.Complete(leaderCtx, node, lifecycle.Drained) // or DrainFailed
//
// for an instance that is no node of the cluster, m.CompleteUnknown; for a
// launch action, m.Launch (blocks until Ready or the launch timeout). On
// becoming leader, m.Resume for every node that carries the annotation.
//
// The schedule of heartbeats (Schedule) is a pure value tested on a fake
// clock; Manager does the I/O around it.
package lifecycle
