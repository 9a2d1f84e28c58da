package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// scaleNodeLabel marks the nodes BenchmarkControllerAtScale made.
const scaleNodeLabel = "spot-handler.test/scale"

// BenchmarkControllerAtScale: the queue-mode controller, leading and idle
// (an empty queue on moto), over 1000 and then 5000 nodes as large as a
// kubelet's (50 images of two long names, five conditions:
// testenv.FatNode), in a memory cgroup of its own started with its
// binary's pages dropped from the page cache (as in a fresh container):
// 30 s after it is ready, the working set the kubelet sees (usage −
// inactive file), anonymous and total RSS, the Go heap in use
// (go_memstats_heap_inuse_bytes), and the working set's growth per 1000
// nodes. The nodes are objects only (no kwok lease or heartbeat: 5000
// would not fit 2 cores), so the index lists them once and then nothing
// changes. $BENCH_AGENT_BINARY runs another build (e.g. one whose index
// keeps nodes in full).
func BenchmarkControllerAtScale(b *testing.B) {
	for range b.N {
		moto := testenv.StartMoto(b)
		q, err := sqs.NewFromConfig(moto.Config()).CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("scale")})
		if err != nil {
			b.Fatalf("creating the queue: %v", err)
		}
		b.Cleanup(func() { deleteScaleNodes(b) })
		made, ws1k := 0, 0.0
		for _, n := range []int{1000, 5000} {
			t0 := time.Now()
			createFatNodes(b, made, n)
			b.Logf("%d nodes made in %v", n-made, time.Since(t0).Round(time.Second))
			made = n
			cg := newMemCgroup(b, fmt.Sprintf("controller-%d", n), 0)
			dropPageCache(b, agentBinary())
			c, err := testenv.StartChild("the controller", cg.wrap(b, agentBinary()), "controller", []string{
				"--queue-url", aws.ToString(q.QueueUrl), "--cluster-name", "scale", "--kubeconfig", plane.Kubeconfig,
				"--endpoint-url", moto.URL, "--region", testenv.MotoRegion, "--leader-elect=false", "--queue-wait=20s"},
				append(moto.Env(), "POD_NAMESPACE=kube-system"))
			if err != nil {
				b.Fatal(err)
			}
			if err := c.WaitReady("the controller", 5*time.Minute, 100*time.Millisecond); err != nil {
				c.Kill()
				b.Fatal(err)
			}
			time.Sleep(30 * time.Second)
			s, err := cg.sample()
			if err != nil {
				b.Fatal(err)
			}
			st := procStatus(b, c.PID())
			b.ReportMetric(s.workingSet()/mib, fmt.Sprintf("ws_MiB_%dnodes", n))
			b.ReportMetric(st["RssAnon"]/1024, fmt.Sprintf("anon_MiB_%dnodes", n))
			b.ReportMetric(st["VmRSS"]/1024, fmt.Sprintf("rss_MiB_%dnodes", n))
			b.ReportMetric(c.MustMetric(b, "go_memstats_heap_inuse_bytes")/mib, fmt.Sprintf("heap_MiB_%dnodes", n))
			if n == 1000 {
				ws1k = s.workingSet()
			} else {
				b.ReportMetric((s.workingSet()-ws1k)/mib/float64(n-1000)*1000, "ws_MiB_per_1000_nodes")
			}
			c.Kill()
		}
	}
}

// createFatNodes makes nodes from..to-1 (testenv.FatNode, each with an
// instance's providerID), 32 at a time.
func createFatNodes(b *testing.B, from, to int) {
	b.Helper()
	var nodes []*corev1.Node
	for i := from; i < to; i++ {
		n := testenv.FatNode(fmt.Sprintf("fat-%05d", i), fmt.Sprintf("aws:///us-east-1a/i-%017x", i+1), 50)
		n.Labels[scaleNodeLabel] = "fat"
		nodes = append(nodes, n)
	}
	if err := plane.CreateNodes(context.Background(), nodes, 32); err != nil {
		b.Fatal(err)
	}
}

// deleteScaleNodes removes the nodes BenchmarkControllerAtScale made (one
// by one, 32 at a time: a collection delete of thousands outlasts its
// request's timeout), so the benchmarks after it run without them.
func deleteScaleNodes(tb testing.TB) {
	ctx := context.Background()
	list, err := plane.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: scaleNodeLabel})
	if err != nil {
		tb.Logf("listing the benchmark's nodes: %v", err)
		return
	}
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, n := range list.Items {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := plane.Client.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				tb.Logf("removing node %s: %v", n.Name, err)
			}
		})
	}
	wg.Wait()
}
