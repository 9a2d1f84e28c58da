// Package drain empties a Kubernetes node before its instance is reclaimed.
//
// It knows Kubernetes and nothing of instance metadata: its input is a node,
// an absolute termination deadline, the kind of notice and a Policy; its
// output is a Report that names every pod and what became of it.
//
// A drain runs Cordon → Plan → Evict → Wait → Report, and every decision is
// computed from one clock, the time left until the deadline:
//
//   - each pod's grace period is min(the pod's own, deadline − margin − now),
//     so the node is empty before deadline − margin whatever the pods ask;
//   - a pod whose eviction a PodDisruptionBudget refuses (429) is retried
//     until its cut-off, the latest moment it can still get its grace period
//     (see cutoff), then deleted or left, as Policy.PDBFallback says;
//   - waiting ends at deadline − margin; a pod still there is reported with
//     the reason it is there.
//
// The node is changed only with patches (never a full-object update), so
// taints and labels written by others at the same time are never lost, and a
// drain run twice (an agent restarted mid-drain) resumes instead of repeating.
//
// Pod listing and filtering (DaemonSet, mirror, emptyDir and unreplicated
// pods) reuse k8s.io/kubectl/pkg/drain; eviction, grace periods, PDB
// handling and waiting are this package's own, because kubectl's use one
// grace period and one global timeout for all pods.
package drain
