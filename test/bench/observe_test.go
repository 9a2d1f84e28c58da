package bench

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// milestones are when a node was seen cordoned, when every pod's eviction
// had been accepted (all carry a deletion timestamp) and when all were gone.
type milestones struct {
	cordoned, accepted, empty time.Time
}

// observe watches node and its pods (there are want of them) until the node
// is empty (want < 0: until it is cordoned) or ctx ends. It returns once the watches are open, with a func
// that waits for the result.
func observe(ctx context.Context, node string, want int) (func() milestones, error) {
	c := plane.Client
	nw, err := c.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", node).String()})
	if err != nil {
		return nil, err
	}
	pw, err := c.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
	if err != nil {
		nw.Stop()
		return nil, err
	}
	var m milestones
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer nw.Stop()
		defer pw.Stop()
		deleting, gone := map[types.UID]bool{}, map[types.UID]bool{}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-nw.ResultChan():
				if !ok {
					return
				}
				if n, isNode := ev.Object.(*corev1.Node); isNode && n.Spec.Unschedulable && m.cordoned.IsZero() {
					m.cordoned = time.Now()
					if want < 0 {
						return
					}
				}
			case ev, ok := <-pw.ResultChan():
				if !ok {
					return
				}
				p, isPod := ev.Object.(*corev1.Pod)
				if !isPod {
					continue
				}
				if p.DeletionTimestamp != nil {
					deleting[p.UID] = true
				}
				if ev.Type == watch.Deleted {
					deleting[p.UID], gone[p.UID] = true, true
				}
				if len(deleting) == want && m.accepted.IsZero() {
					m.accepted = time.Now()
				}
				if len(gone) == want {
					m.empty = time.Now()
					return
				}
			}
		}
	}()
	return func() milestones { <-done; return m }, nil
}

// spotNodeWithPods makes a kwok node and a ReplicaSet of n pods pinned to it.
func spotNodeWithPods(b *testing.B, node string, n int32, grace int64, delay time.Duration) {
	b.Helper()
	ctx := context.Background()
	if _, err := plane.NewNode(ctx, node, map[string]string{"spot": "true"}); err != nil {
		b.Fatal(err)
	}
	if n == 0 {
		return
	}
	ns := "bench-" + node
	if err := plane.CreateNamespace(ctx, ns); err != nil {
		b.Fatal(err)
	}
	if err := plane.PinnedReplicaSet(ctx, ns, "app", node, n, grace, delay); err != nil {
		b.Fatal(err)
	}
}

// spotNotice starts AEMM serving a Spot notice that appears at `at` (a whole
// second) with termination at deadline.
func spotNotice(b *testing.B, at, deadline time.Time) *testenv.AEMM {
	b.Helper()
	a, err := testenv.StartAEMMProcess("spot", "--imdsv2", "--mock-trigger-time", at.UTC().Format(time.RFC3339),
		"-t", deadline.UTC().Format(time.RFC3339), "--rebalance-delay-sec", "1000000")
	if err != nil {
		b.Fatal(err)
	}
	return a
}

func startAgent(b *testing.B, node, imdsURL string, extra ...string) *testenv.AgentProc {
	b.Helper()
	a, err := testenv.StartAgent(binary, plane.Kubeconfig, node, imdsURL, extra...)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// nextSecond is the whole second at least d from now.
func nextSecond(d time.Duration) time.Time {
	return time.Now().Add(d).Truncate(time.Second).Add(time.Second)
}

// percentile returns the p-th percentile (0..100) of xs by nearest rank.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return s[i]
}

var nodeSeq struct {
	sync.Mutex
	n int
}

// nodeName returns a fresh node name with prefix.
func nodeName(prefix string) string {
	nodeSeq.Lock()
	defer nodeSeq.Unlock()
	nodeSeq.n++
	return fmt.Sprintf("%s-%d", prefix, nodeSeq.n)
}
