package drain

import (
	"context"
	"strings"
	"testing"
	"time"

	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// wavesWorkload is the priority workload of the waves tests: batch pods at
// a low PriorityClass, web pods at none (0), a logging Deployment-like
// ReplicaSet at system-node-critical and a log shipper without a
// PriorityClass named into the same last wave by OrderAnnotation. Each pod
// uses all the grace it gets (kwok's delete delay is above it).
func wavesWorkload(t *testing.T, batch, web, logs int64) []workload {
	t.Helper()
	needPlane(t)
	lowPriorityClass(t)
	long := 100000 * time.Second
	return []workload{
		{name: "batch", replicas: 4, grace: batch, delay: long, priority: "drain-test-low"},
		{name: "web", replicas: 6, grace: web, delay: long},
		{name: "logging", replicas: 2, grace: logs, delay: long, priority: "system-node-critical"},
		{name: "shipper", replicas: 1, grace: logs, delay: long, annots: map[string]string{OrderAnnotation: "2000001000"}},
	}
}

// proxiedDrainer is newDrainer talking to the plane through the fault
// proxy f, whose log tells when each eviction was asked.
func proxiedDrainer(t *testing.T, f *testenv.Faults, tweak func(*Policy)) *Drainer {
	t.Helper()
	return drainerFor(t, f.Client, tweak)
}

// lowPriorityClass makes sure the PriorityClass drain-test-low (−10) exists.
func lowPriorityClass(tb testing.TB) {
	tb.Helper()
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "drain-test-low"}, Value: -10}
	if _, err := plane.Client.SchedulingV1().PriorityClasses().Create(context.Background(), pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		tb.Fatal(err)
	}
}

// waveTimes is, per workload, when the proxy saw its first and last
// eviction request, and, from the report, when its last pod was gone.
type waveTimes struct{ firstEvict, lastEvict, lastGone time.Time }

func wavesOf(t *testing.T, f *testenv.Faults, rep *Report) map[string]*waveTimes {
	t.Helper()
	app := func(pod string) string { return pod[:strings.LastIndex(pod, "-")] }
	out := map[string]*waveTimes{}
	get := func(a string) *waveTimes {
		if out[a] == nil {
			out[a] = &waveTimes{}
		}
		return out[a]
	}
	for _, l := range f.Requests() {
		if !l.IsEviction() {
			continue
		}
		parts := strings.Split(l.Path, "/")
		w := get(app(parts[6]))
		if w.firstEvict.IsZero() || l.At.Before(w.firstEvict) {
			w.firstEvict = l.At
		}
		if l.At.After(w.lastEvict) {
			w.lastEvict = l.At
		}
	}
	for _, r := range rep.Pods {
		if w := get(app(r.Name)); r.Gone.After(w.lastGone) {
			w.lastGone = r.Gone
		}
	}
	for a, w := range out {
		t.Logf("%-8s evictions %s .. %s, last gone %s", a, w.firstEvict.Format("15:04:05.000"), w.lastEvict.Format("15:04:05.000"),
			w.lastGone.Format("15:04:05.000"))
	}
	return out
}

// TestDrainPriorityWaves (issue 20, item 6): with time for every wave in
// turn, the batch pods leave first, the web pods once every batch pod is
// gone, and the logging pods and the annotated shipper last, once every web
// pod is gone. Before the waves waited for pods to be gone, each wave
// started as soon as the previous one's evictions were answered: the web
// and logging pods were evicted while the batch pods were still there.
func TestDrainPriorityWaves(t *testing.T) {
	node := "drain-waves"
	p, _ := nodeTest(t, node, wavesWorkload(t, 4, 4, 3)...)
	f := p.Faults(t)
	d := proxiedDrainer(t, f, nil)
	rep := drainToEmpty(t, p, d, Request{Node: node, Kind: "SpotInterruption", NoticeID: "waves", Deadline: time.Now().Add(2 * time.Minute)})
	w := wavesOf(t, f, rep)
	for _, a := range []string{"batch", "web", "logging", "shipper"} {
		if w[a] == nil || w[a].firstEvict.IsZero() {
			t.Fatalf("no eviction of %s pods seen", a)
		}
	}
	if !w["web"].firstEvict.After(w["batch"].lastGone) {
		t.Errorf("a web pod was evicted at %v, before the last batch pod was gone at %v", w["web"].firstEvict, w["batch"].lastGone)
	}
	for _, a := range []string{"logging", "shipper"} {
		if !w[a].firstEvict.After(w["web"].lastGone) {
			t.Errorf("a %s pod was evicted at %v, before the last web pod was gone at %v", a, w[a].firstEvict, w["web"].lastGone)
		}
	}
	if d := w["logging"].firstEvict.Sub(w["shipper"].firstEvict).Abs(); d > 2*time.Second {
		t.Errorf("the shipper (drain order by annotation) and the logging pods were evicted %v apart, want one wave", d)
	}
}

// TestDrainPriorityWavesShortWindow (issue 20, item 6): a 40 s notice with
// a 10 s margin leaves 30 s; the waves would need 20 + 20 + 15 s (and the
// kill slack) in turn, so they overlap: each starts at its latest start.
// The evictions still go lowest first, and the node is empty before
// deadline − margin whatever the order costs.
func TestDrainPriorityWavesShortWindow(t *testing.T) {
	node := "drain-waves-short"
	p, _ := nodeTest(t, node, wavesWorkload(t, 20, 20, 15)...)
	f := p.Faults(t)
	d := proxiedDrainer(t, f, func(pol *Policy) { pol.Margin = 10 * time.Second })
	rep := drainToEmpty(t, p, d, Request{Node: node, Kind: "SpotInterruption", NoticeID: "waves-short", Deadline: time.Now().Add(40 * time.Second)})
	w := wavesOf(t, f, rep)
	for _, a := range []string{"batch", "web", "logging", "shipper"} {
		if w[a] == nil || w[a].firstEvict.IsZero() {
			t.Fatalf("no eviction of %s pods seen", a)
		}
	}
	if w["web"].firstEvict.Before(w["batch"].lastEvict) || w["logging"].firstEvict.Before(w["web"].lastEvict) ||
		w["shipper"].firstEvict.Before(w["web"].lastEvict) {
		t.Errorf("evictions out of order: batch, then web, then logging and shipper")
	}
	if !w["logging"].firstEvict.Before(w["batch"].lastGone) {
		t.Errorf("the waves did not overlap (logging evicted at %v, batch gone at %v): the test does not exercise the latest starts",
			w["logging"].firstEvict, w["batch"].lastGone)
	}
}
