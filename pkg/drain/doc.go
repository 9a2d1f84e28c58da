// Package drain empties a Kubernetes node before its instance is reclaimed.
//
// It knows Kubernetes and nothing of instance metadata: its input is a node,
// an absolute termination deadline, the kind of notice and a Policy; its
// output is a Report that names every pod and what became of it, and the
// error that ended the drain (Report.Err).
//
// A drain runs Cordon → Plan → Evict → Wait → Report, and every decision is
// computed from one clock, the time left until the deadline:
//
//   - each pod's grace period is min(the pod's own, deadline − margin − now),
//     so the node is empty before deadline − margin whatever the pods ask;
//   - every eviction answer has an outcome (answerOf): accepted; gone (404,
//     or 409 on the UID precondition); refused by a PodDisruptionBudget
//     (429) or for another lasting reason (a pod under two PDBs, an
//     admission webhook or policy): retried until the pod's cut-off, the
//     latest moment it can still get its grace period (see cutoff), then
//     deleted or left, as Policy.PDBFallback says; or a passing failure
//     (5xx, throttling, timeouts, broken connections): retried;
//   - every step after the cordon retries passing API failures with a
//     jittered backoff on the injected clock while time is left, so one
//     failed request never ends a drain;
//   - Policy.Parallelism bounds requests in flight, not pods being retried:
//     waiting between attempts holds no slot, and first attempts go before
//     retries;
//   - pods that reach the node while it drains are evicted too;
//   - a pod found terminating at any point of the drain, before the plan or
//     after it, by anyone (a NoExecute taint's eviction, a namespace
//     deletion, a rollout scaling down, a person), is not evicted again but
//     deleted again with a shorter grace period and its UID as
//     precondition, as an eviction's would be (see shortenTo); the report
//     says who started it (PodResult.TerminatedBy);
//   - waiting ends at deadline − margin; a pod still there is reported with
//     the reason it is there.
//
// "Empty" means every pod that must leave is gone and no pod is undecided
// (its DaemonSet could not be read, so it may be an orphan that must
// leave); only then is Report.Empty true. A drain with Request.OnEmpty
// does not end at the first empty moment: it hands the caller the report of
// that moment (the caller completes an ASG lifecycle action, frees a
// worker) and keeps the node under watch until deadline − margin. A pod
// that lands on the node meanwhile (one that tolerates every taint, or is
// created with spec.nodeName) is drained by the same rules and listed in
// Report.Late. While the node stays empty the watch holds no claim and
// renews nothing: it costs one watch of the node's pods.
//
// The node is changed only with patches (never a full-object update), so
// taints and labels written by others at the same time are never lost, and a
// drain run twice (an agent restarted mid-drain) resumes instead of repeating.
// Two drains of one node at once agree through ClaimAnnotation: one evicts,
// the other watches, so each pod is evicted once.
//
// The pods to evict are chosen by kubectl's own drain filters
// (k8s.io/kubectl/pkg/drain, as kubectl drain --force --ignore-daemonsets
// --delete-emptydir-data, and the agent's own pod kept; see choose), on the
// pods the drain's one LIST and watch see, those that come later included.
// The filters read the DaemonSet of each DaemonSet pod (so the agent needs
// get on daemonsets): a pod whose DaemonSet is gone is evicted, and a read
// that fails or is refused is retried with the drain's backoff and, if it
// never succeeds, reported with the pod among the skipped ones. Eviction,
// grace periods, PDB handling and waiting are this package's own, because
// kubectl's use one grace period and one global timeout for all pods.
package drain
