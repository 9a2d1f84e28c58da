package drain

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// daemonSetOn makes a DaemonSet pinned to node that tolerates the drain's
// taint, and waits for its pod.
func daemonSetOn(t *testing.T, p *testenv.Plane, ns, name, node string) {
	t.Helper()
	if err := p.PinnedDaemonSet(context.Background(), ns, name, node); err != nil {
		t.Fatal(err)
	}
}

// TestDrainUsesKubectlDaemonSetFilter: the pods are chosen by kubectl
// drain's filters with --force --ignore-daemonsets, which read the
// DaemonSet of each DaemonSet pod. A pod whose DaemonSet the API says does
// not exist (an orphan: what `kubectl delete ds --cascade=orphan` leaves
// until the garbage collector catches up, here a 404 from the fault proxy,
// because the plane's garbage collector removes real dangling owners within
// moments) is drained as kubectl --force would; a pod of a live DaemonSet
// stays, even though the first read of its DaemonSet answered 503: the
// lookup is retried, not taken as an answer.
func TestDrainUsesKubectlDaemonSetFilter(t *testing.T) {
	node := "drain-daemonsets"
	p, ns := nodeTest(t, node, workload{name: "web", replicas: 2, grace: 1})
	daemonSetOn(t, p, ns, "logs", node)
	daemonSetOn(t, p, ns, "old", node)
	var orphan corev1.Pod
	for _, pod := range podsOn(t, p, node) {
		if strings.HasPrefix(pod.Name, "old-") {
			orphan = pod
		}
	}
	f := p.Faults(t)
	dsPath := func(name string) testenv.Match {
		return testenv.Match{Method: "GET", Path: "^/apis/apps/v1/namespaces/" + ns + "/daemonsets/" + name + "$"}
	}
	gone := f.Add(testenv.Rule{Match: dsPath("old"), Times: 1, Status: 404, Message: `daemonsets.apps "old" not found`})
	flaky := f.Add(testenv.Rule{Match: dsPath("logs"), Times: 1, Status: 503, Message: "etcd leader changed"})
	d := drainerOn(t, f.Client, nil)
	rep := drainToEmpty(t, p, d, Request{Node: node, Kind: "SpotInterruption", NoticeID: "ds", Deadline: time.Now().Add(60 * time.Second)})
	var evictedOrphan bool
	for _, r := range rep.Pods {
		if r.UID == orphan.UID {
			evictedOrphan = r.Outcome == Evicted
			if !strings.Contains(r.Warning, "DaemonSet") {
				t.Errorf("orphan's warning %q does not say its DaemonSet is gone", r.Warning)
			}
		}
	}
	if !evictedOrphan {
		t.Errorf("the pod %s of a DaemonSet the API says is gone was not evicted (pods %+v, skipped %+v)", orphan.Name, rep.Pods, rep.Skipped)
	}
	var leftLogs bool
	for _, s := range rep.Skipped {
		if strings.HasPrefix(s.Name, "logs-") {
			leftLogs = strings.Contains(s.Reason, "DaemonSet pod")
		}
	}
	if !leftLogs {
		t.Errorf("the live DaemonSet's pod was not left with its reason: skipped %+v", rep.Skipped)
	}
	if c := rep.Counts()[Evicted]; c != 3 {
		t.Errorf("evicted %d, want the 2 web pods and the orphan: %v", c, rep.Counts())
	}
	var lookups int
	for _, l := range f.Requests() {
		if l.Method == "GET" && strings.HasSuffix(l.Path, "/daemonsets/logs") {
			lookups++
		}
	}
	if gone.Hits() != 1 || flaky.Hits() != 1 || lookups < 2 {
		t.Errorf("faults hit: 404 %d, 503 %d; GETs of the live DaemonSet %d, want 1, 1 and a retry", gone.Hits(), flaky.Hits(), lookups)
	}
}
