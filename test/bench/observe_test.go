package bench

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// milestones are when a node was seen cordoned, when every pod's eviction
// had been accepted (all carry a deletion timestamp) and when all were gone.
type milestones struct {
	cordoned, accepted, empty time.Time
}

// observe follows node and its pods (there are want of them) with
// informers (which list again and re-watch when a watch breaks, as one
// does under load) until the node is empty (want < 0: until it is
// cordoned) or ctx ends. It returns once both caches have synced, with a
// func that waits for the result.
func observe(ctx context.Context, node string, want int) (func() milestones, error) {
	c := plane.Client
	var (
		mu             sync.Mutex
		m              milestones
		deleting, gone = map[types.UID]bool{}, map[types.UID]bool{}
		finished       = make(chan struct{})
		finish         sync.Once
	)
	stop := make(chan struct{})
	done := func() { finish.Do(func() { close(finished) }) }
	nodeInf := cache.NewSharedIndexInformer(cache.NewListWatchFromClient(c.CoreV1().RESTClient(), "nodes", "",
		fields.OneTermEqualSelector("metadata.name", node)), &corev1.Node{}, 0, cache.Indexers{})
	onNode := func(obj any) {
		n, ok := obj.(*corev1.Node)
		mu.Lock()
		defer mu.Unlock()
		if ok && n.Spec.Unschedulable && m.cordoned.IsZero() {
			m.cordoned = time.Now()
			if want < 0 {
				done()
			}
		}
	}
	if _, err := nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: onNode,
		UpdateFunc: func(_, obj any) { onNode(obj) }}); err != nil {
		return nil, err
	}
	podInf := cache.NewSharedIndexInformer(cache.NewListWatchFromClient(c.CoreV1().RESTClient(), "pods", "",
		fields.OneTermEqualSelector("spec.nodeName", node)), &corev1.Pod{}, 0, cache.Indexers{})
	onPod := func(obj any, deleted bool) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if p.DeletionTimestamp != nil || deleted {
			deleting[p.UID] = true
		}
		if deleted {
			gone[p.UID] = true
		}
		if want > 0 && len(deleting) == want && m.accepted.IsZero() {
			m.accepted = time.Now()
		}
		if want > 0 && len(gone) == want && m.empty.IsZero() {
			m.empty = time.Now()
			done()
		}
	}
	if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) { onPod(obj, false) },
		UpdateFunc: func(_, obj any) { onPod(obj, false) }, DeleteFunc: func(obj any) { onPod(obj, true) }}); err != nil {
		return nil, err
	}
	go nodeInf.Run(stop)
	go podInf.Run(stop)
	if !cache.WaitForCacheSync(ctx.Done(), nodeInf.HasSynced, podInf.HasSynced) {
		close(stop)
		return nil, fmt.Errorf("watching node %s: caches did not sync", node)
	}
	return func() milestones {
		select {
		case <-finished:
		case <-ctx.Done():
		}
		close(stop)
		mu.Lock()
		defer mu.Unlock()
		return m
	}, nil
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
	if n > 200 {
		raisePodCapacity(b, node, int64(n)+50)
	}
	ns := "bench-" + node
	if err := plane.CreateNamespace(ctx, ns); err != nil {
		b.Fatal(err)
	}
	if err := plane.PinnedReplicaSet(ctx, ns, "app", node, n, grace, delay); err != nil {
		b.Fatal(err)
	}
}

// raisePodCapacity lets node (made by NewNode, room for 250) run pods pods.
func raisePodCapacity(b *testing.B, node string, pods int64) {
	b.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		n, err := plane.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		q := *resource.NewQuantity(pods, resource.DecimalSI)
		n.Status.Capacity[corev1.ResourcePods], n.Status.Allocatable[corev1.ResourcePods] = q, q
		_, err = plane.Client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		b.Fatalf("raising node %s's pod capacity: %v", node, err)
	}
}

// spotNotice starts AEMM serving a Spot notice that appears at `at` (a whole
// second) with termination at deadline.
func spotNotice(b *testing.B, at, deadline time.Time) *testenv.AEMM {
	b.Helper()
	a, err := testenv.StartAEMMProcess(noticeArgs(at, deadline)...)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// noticeArgs are AEMM's arguments for a Spot notice that appears at `at`
// with termination at deadline (and no rebalance recommendation).
func noticeArgs(at, deadline time.Time) []string {
	return []string{"spot", "--imdsv2", "--mock-trigger-time", at.UTC().Format(time.RFC3339),
		"-t", deadline.UTC().Format(time.RFC3339), "--rebalance-delay-sec", "1000000"}
}

// startAgent runs the agent binary (agentBinary) for node against imdsURL.
func startAgent(b *testing.B, node, imdsURL string, extra ...string) *testenv.AgentProc {
	b.Helper()
	return startAgentBin(b, agentBinary(), node, imdsURL, extra...)
}

// startAgentBin runs bin (the agent, or a script that execs it) for node.
func startAgentBin(b *testing.B, bin, node, imdsURL string, extra ...string) *testenv.AgentProc {
	b.Helper()
	a, err := testenv.StartAgent(bin, plane.Kubeconfig, node, imdsURL, extra...)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// agentBinary is $BENCH_AGENT_BINARY if set (e.g. an older build, to
// measure before and after a change), else the binary TestMain built.
func agentBinary() string {
	if bin := os.Getenv("BENCH_AGENT_BINARY"); bin != "" {
		return bin
	}
	return binary
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
