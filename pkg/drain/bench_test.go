package drain

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
)

// benchNodeWith is nodeWith for benchmarks.
func benchNodeWith(b *testing.B, node string, n int32, grace int64) string {
	b.Helper()
	ctx := context.Background()
	if _, err := plane.NewNode(ctx, node, nil); err != nil {
		b.Fatal(err)
	}
	ns := "bench-" + node
	if err := plane.CreateNamespace(ctx, ns); err != nil {
		b.Fatal(err)
	}
	if n > 0 {
		if err := plane.PinnedReplicaSet(ctx, ns, "app", node, n, grace, 0); err != nil {
			b.Fatal(err)
		}
	}
	return ns
}

// countingTransport counts the requests a client makes.
type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// BenchmarkDrain110Pods drains 110 pods (30s grace) through the library and
// counts the API requests it makes (a counting transport).
func BenchmarkDrain110Pods(b *testing.B) {
	for i := range b.N {
		node := fmt.Sprintf("bench-drain-%d", i)
		benchNodeWith(b, node, 110, 30)
		var n atomic.Int64
		cfg := rest.CopyConfig(plane.Config)
		cfg.QPS, cfg.Burst = 50, 150 // the agent's defaults
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt, &n} }
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			b.Fatal(err)
		}
		d, err := New(c, DefaultPolicy(), nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := d.Drain(context.Background(), Request{Node: node, Kind: "SpotInterruption", Deadline: time.Now().Add(2 * time.Minute)})
		if err != nil || !rep.Empty {
			b.Fatalf("drain: %v %s", err, rep.Summary())
		}
		b.ReportMetric(rep.Cordoned.Sub(rep.Started).Seconds()*1000, "cordon_ms")
		b.ReportMetric(rep.AllAccepted.Sub(rep.Started).Seconds(), "all_accepted_s")
		b.ReportMetric(rep.Finished.Sub(rep.Started).Seconds(), "empty_s")
		b.ReportMetric(float64(n.Load()), "api_requests")
	}
}

// BenchmarkPDBNeverAllows: two pods behind a PDB with maxUnavailable 0 (it
// never allows an eviction) on a node with a 40s notice and 10s margin.
// With --pdb-fallback=delete the node is empty before deadline − margin;
// with wait, the report names both pods and the PDB.
func BenchmarkPDBNeverAllows(b *testing.B) {
	for i := range b.N {
		for _, fb := range []PDBFallback{FallbackDelete, FallbackWait} {
			node := fmt.Sprintf("bench-pdb-%s-%d", fb, i)
			ns := benchNodeWith(b, node, 2, 5)
			pdbForBench(b, ns, "app")
			pol := DefaultPolicy()
			pol.PDBFallback, pol.Margin = fb, 10*time.Second
			d, err := New(plane.Client, pol, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			rep, err := d.Drain(context.Background(), Request{Node: node, Kind: "SpotInterruption", Deadline: time.Now().Add(40 * time.Second)})
			if err != nil {
				b.Fatal(err)
			}
			if fb == FallbackDelete {
				b.ReportMetric(rep.Spare().Seconds(), "delete_spare_s")
				b.ReportMetric(float64(rep.Counts()[DeletedAfterCutoff]), "deleted_after_cutoff")
			} else {
				named := 0
				for _, p := range rep.Blocking() {
					if p.PDB == ns+"/app-pdb" {
						named++
					}
				}
				b.ReportMetric(float64(named), "wait_blocking_pods_named")
			}
		}
	}
}

func pdbForBench(b *testing.B, ns, app string) {
	b.Helper()
	pdb := newPDB(ns, app, intstrZero())
	if _, err := plane.Client.PolicyV1().PodDisruptionBudgets(ns).Create(context.Background(), pdb, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		got, err := plane.Client.PolicyV1().PodDisruptionBudgets(ns).Get(context.Background(), pdb.Name, metav1.GetOptions{})
		if err == nil && got.Status.ObservedGeneration == got.Generation && got.Status.ExpectedPods > 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal("PDB status never computed")
}

// BenchmarkConcurrentTaintWriters: 20 writers each add their own taint to
// one node at the same moment, while the drain cordons it, 10 rounds. The
// drain's guarded JSON patch is compared with a full-object Update of a
// node read earlier (a model of the peer's complaint: an Update that does
// not carry the resourceVersion it read overwrites what others wrote) and
// with a read-modify-Update retried on conflict (client-go's DefaultRetry,
// 5 tries). lost_pct is the share of taints missing afterwards, whether
// overwritten or given up on.
func BenchmarkConcurrentTaintWriters(b *testing.B) {
	const writers, rounds = 20, 10
	for i := range b.N {
		for _, m := range []string{"patch", "update_no_rv", "update_retry"} {
			lost, total := 0, 0
			var failed atomic.Int64
			for r := range rounds {
				node := fmt.Sprintf("bench-taints-%s-%d-%d", strings.ReplaceAll(m, "_", "-"), i, r)
				if _, err := plane.NewNode(context.Background(), node, nil); err != nil {
					b.Fatal(err)
				}
				d, _ := New(plane.Client, DefaultPolicy(), nil, nil)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for w := range writers {
					wg.Go(func() {
						<-start
						if err := addTaint(m, node, corev1.Taint{Key: fmt.Sprintf("writer-%d", w), Effect: corev1.TaintEffectNoSchedule}); err != nil {
							failed.Add(1) // gave up (e.g. conflicts outlasted the retries): the taint is lost too
						}
					})
				}
				wg.Go(func() {
					<-start
					if m == "patch" {
						_ = d.Cordon(context.Background(), Request{Node: node, Kind: "SpotInterruption", Deadline: time.Now().Add(time.Minute)})
					} else {
						_ = addTaint(m, node, corev1.Taint{Key: TaintKey, Value: "SpotInterruption", Effect: corev1.TaintEffectNoSchedule})
					}
				})
				close(start)
				wg.Wait()
				n, err := plane.Client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
				if err != nil {
					b.Fatal(err)
				}
				want := map[string]bool{TaintKey: true}
				for w := range writers {
					want[fmt.Sprintf("writer-%d", w)] = true
				}
				for _, tn := range n.Spec.Taints {
					delete(want, tn.Key)
				}
				lost += len(want)
				total += writers + 1
			}
			b.ReportMetric(100*float64(lost)/float64(total), m+"_lost_pct")
			b.ReportMetric(float64(failed.Load()), m+"_failed_writes")
		}
	}
}

// addTaint adds one taint by method m.
func addTaint(m, node string, t corev1.Taint) error {
	ctx := context.Background()
	nodes := plane.Client.CoreV1().Nodes()
	switch m {
	case "patch":
		return patchNode(ctx, plane.Client, node, func(n *corev1.Node) ([]patchOp, error) {
			if len(n.Spec.Taints) == 0 {
				return []patchOp{testOp("/spec/taints", nil), {Op: "add", Path: "/spec/taints", Value: []corev1.Taint{t}}}, nil
			}
			return []patchOp{testOp("/spec/taints", n.Spec.Taints), {Op: "add", Path: "/spec/taints/-", Value: t}}, nil
		})
	case "update_no_rv":
		n, err := nodes.Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Spec.Taints = append(n.Spec.Taints, t)
		n.ResourceVersion = ""
		_, err = nodes.Update(ctx, n, metav1.UpdateOptions{})
		return err
	default:
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := nodes.Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return err
			}
			n.Spec.Taints = append(n.Spec.Taints, t)
			_, err = nodes.Update(ctx, n, metav1.UpdateOptions{})
			return err
		})
	}
}

func intstrZero() intstr.IntOrString { return intstr.FromInt32(0) }

func newPDB(ns, app string, mu intstr.IntOrString) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: app + "-pdb", Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &mu, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}}
}
