package e2e

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// pathDown serves target (an AEMM) on 127.0.0.1, except that path answers
// status: AEMM cannot fail one metadata path while serving the others.
func pathDown(t *testing.T, target, path string, status int) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	return newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/"+path {
			http.Error(w, http.StatusText(status), status)
			return
		}
		rp.ServeHTTP(w, r)
	}))
}

// imdsAnswers is the agent's count of requests to path with outcome.
func imdsAnswers(t *testing.T, a *agentProc, path, outcome string) float64 {
	t.Helper()
	return a.metric(t, "spot_handler_imds_requests_total", `path="`+path+`"`, `outcome="`+outcome+`"`)
}

// TestAgentRestartSpotPathDown (issue #20, item 4): an agent restarted on a
// node it cordoned for a Spot interruption finds the Spot path answering
// 503 while the other paths answer 404. The Spot path has not answered, so
// it has not withdrawn the notice (and a Spot interruption still ahead is
// final anyway): the node stays cordoned, the record stays, and the drain
// resumes to the recorded deadline.
func TestAgentRestartSpotPathDown(t *testing.T) {
	const name = "e2e-spot-503"
	spotTest(t, name, 3, 1)
	deadline := time.Now().Add(3 * time.Minute).UTC().Truncate(time.Second)
	aemm := testenv.StartAEMM(t, "spot", "--imdsv2", "-t", deadline.Format(time.RFC3339), "--rebalance-delay-sec", "100000")
	first := startAgent(t, name, aemm.URL)
	waitUntil(t, 30*time.Second, "node drained", func() bool { return node(t, name).Spec.Unschedulable && podsOn(t, name) == 0 })
	rec := recordedNotice(t, node(t, name))
	if rec == nil || rec.Kind != "SpotInterruption" {
		t.Fatalf("record %+v, want the Spot notice", rec)
	}
	first.kill()

	second := startAgent(t, name, pathDown(t, aemm.URL, imds.PathSpotInstanceAction, http.StatusServiceUnavailable))
	waitUntil(t, 30*time.Second, "three polls: Spot 503, the other paths 404", func() bool {
		return imdsAnswers(t, second, imds.PathSpotInstanceAction, "server_error") >= 3 &&
			imdsAnswers(t, second, imds.PathRebalance, "not_found") >= 3 &&
			imdsAnswers(t, second, imds.PathScheduledMaintenance, "not_found") >= 3 &&
			imdsAnswers(t, second, imds.PathTargetLifecycleState, "not_found") >= 3
	})
	n := node(t, name)
	if again := recordedNotice(t, n); !n.Spec.Unschedulable || taintCount(n) != 1 || again == nil || again.ID != rec.ID {
		t.Errorf("after the restart: unschedulable %v, taints %v, record %+v; want the node cordoned and tainted with the record %s",
			n.Spec.Unschedulable, n.Spec.Taints, again, rec.ID)
	}
	if strings.Contains(second.logs(), "uncordoning") {
		t.Error("the restarted agent uncordoned a node whose Spot interruption is still ahead")
	}
	if got := second.metric(t, "spot_handler_termination_deadline_timestamp_seconds"); got != float64(rec.Deadline.Unix()) {
		t.Errorf("the restarted agent drains to %v, want the recorded deadline %v", time.Unix(int64(got), 0).UTC(), rec.Deadline)
	}
}
