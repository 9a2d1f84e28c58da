package drain

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// plane is the control plane the package's integration tests share; each
// test makes its own node and namespace.
var plane *testenv.Plane

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		var err error
		plane, err = testenv.StartPlane(testenv.Options{})
		if err != nil {
			fmt.Fprintf(os.Stderr, "pkg/drain tests need the local control plane: %v\n", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if plane != nil {
		plane.Stop()
	}
	os.Exit(code)
}

// needPlane marks a test that runs against the real plane.
func needPlane(t *testing.T) *testenv.Plane {
	t.Helper()
	if plane == nil {
		t.Skip("-short: this test needs the local control plane")
	}
	return plane
}

// workload is what a test puts on its node.
type workload struct {
	name     string
	replicas int32
	grace    int64
	delay    time.Duration // kwok delete delay; > grace makes the pod use all of it
	priority string        // PriorityClass name, "" for none
	labels   map[string]string
	annots   map[string]string // the pods' annotations, added to the template's
}

// nodeWith makes a kwok node and the workloads' ReplicaSets pinned to it,
// and waits until every pod runs.
func nodeWith(t testing.TB, p *testenv.Plane, ns, node string, wls ...workload) {
	t.Helper()
	ctx := context.Background()
	if _, err := p.NewNode(ctx, node, nil); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, w := range wls {
		labels := map[string]string{"app": w.name}
		for k, v := range w.labels {
			labels[k] = v
		}
		tpl := testenv.PodTemplate(labels, map[string]string{"kubernetes.io/hostname": node}, w.grace, w.delay)
		tpl.Spec.PriorityClassName = w.priority
		for k, v := range w.annots {
			tpl.Annotations[k] = v
		}
		r := w.replicas
		rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: w.name, Namespace: ns},
			Spec: appsv1.ReplicaSetSpec{Replicas: &r, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": w.name}}, Template: tpl}}
		if _, err := p.Client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		total += int(w.replicas)
	}
	for _, w := range wls {
		if err := p.WaitPods(ctx, ns, "app="+w.name, int(w.replicas), 120*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("node %s runs %d pods", node, total)
}

// nodeTest begins a test that runs in parallel with the others on a kwok
// node of its own, carrying wls in a new namespace; it returns the plane
// and the namespace.
func nodeTest(t *testing.T, node string, wls ...workload) (*testenv.Plane, string) {
	t.Helper()
	p := needPlane(t)
	t.Parallel()
	ns := p.NewNamespace(t)
	nodeWith(t, p, ns, node, wls...)
	return p, ns
}

// newDrainer returns a Drainer on the plane with policy tweaks.
func newDrainer(t *testing.T, p *testenv.Plane, tweak func(*Policy)) *Drainer {
	t.Helper()
	return drainerFor(t, p.Client, tweak)
}

// drainerFor returns a Drainer using client with policy tweaks.
func drainerFor(t *testing.T, client kubernetes.Interface, tweak func(*Policy)) *Drainer {
	t.Helper()
	pol := DefaultPolicy()
	if tweak != nil {
		tweak(&pol)
	}
	d, err := New(client, pol, nil, zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// podsOn lists the pods bound to node that are not finished.
func podsOn(t *testing.T, p *testenv.Plane, node string) []corev1.Pod {
	t.Helper()
	l, err := p.Client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func getNode(t *testing.T, p *testenv.Plane, name string) *corev1.Node {
	t.Helper()
	n, err := p.Client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// countTaint counts our taint on the node.
func countTaint(n *corev1.Node) int {
	c := 0
	for _, tn := range n.Spec.Taints {
		if tn.Key == TaintKey {
			c++
		}
	}
	return c
}
