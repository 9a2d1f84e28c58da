package lifecycle_test

import (
	"context"
	"os"
	"path"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/testenv"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// The real plane and moto, started once for the package's peer tests.
var (
	peersOnce sync.Once
	plane     *testenv.Plane
	moto      *testenv.Moto
	peersErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if moto != nil {
		moto.Stop()
	}
	if plane != nil {
		plane.Stop()
	}
	os.Exit(code)
}

// peers returns the plane and a reset moto, skipping under -short.
func peers(t testing.TB) (*testenv.Plane, *testenv.Moto) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the local control plane and moto")
	}
	peersOnce.Do(func() {
		if moto, peersErr = testenv.StartMotoProcess(); peersErr != nil {
			return
		}
		plane, peersErr = testenv.StartPlane(testenv.Options{})
	})
	if peersErr != nil {
		t.Fatalf("starting the peers: %v", peersErr)
	}
	moto.Use(t)
	return plane, moto
}

// world is one test's group in moto, its hooks and its nodes.
type world struct {
	t         testing.TB
	plane     *testenv.Plane
	moto      *testenv.Moto
	asg       *autoscaling.Client
	group     string
	instances []testenv.GroupInstance
	ns        string
}

const (
	terminateHook = "drain"
	launchHook    = "join"
)

// newWorld creates a group of size instances with a termination hook and a
// launch hook of the given heartbeat timeout (seconds).
func newWorld(t testing.TB, size int, timeout int32) *world {
	t.Helper()
	p, m := peers(t)
	ctx := context.Background()
	w := &world{t: t, plane: p, moto: m, asg: autoscaling.NewFromConfig(m.Config()), group: "nodes"}
	var err error
	if w.instances, err = m.CreateGroup(ctx, w.group, size); err != nil {
		t.Fatal(err)
	}
	for hook, transition := range map[string]string{terminateHook: lifecycle.Terminating, launchHook: lifecycle.Launching} {
		if _, err := w.asg.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{AutoScalingGroupName: &w.group,
			LifecycleHookName: aws.String(hook), LifecycleTransition: aws.String(transition), HeartbeatTimeout: aws.Int32(timeout),
			DefaultResult: aws.String("ABANDON")}); err != nil {
			t.Fatalf("PutLifecycleHook: %v", err)
		}
	}
	w.ns = p.NewNamespace(t)
	return w
}

// node creates the kwok node of instance i, with its providerID, and returns
// its name.
func (w *world) node(i int) string {
	w.t.Helper()
	ctx := context.Background()
	inst := w.instances[i]
	name := "ip-" + inst.ID
	if _, err := w.plane.NewNode(ctx, name, nil); err != nil {
		w.t.Fatal(err)
	}
	patch := []byte(`{"spec":{"providerID":"` + inst.ProviderID() + `"}}`)
	if _, err := w.plane.Client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		w.t.Fatalf("setting providerID: %v", err)
	}
	w.t.Cleanup(func() { _ = w.plane.Client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	return name
}

// begin starts a lifecycle action in moto and returns it as the lifecycle
// event would carry it.
func (w *world) begin(i int, hook, transition string) lifecycle.Action {
	w.t.Helper()
	token, err := w.moto.BeginLifecycleAction(w.group, hook, w.instances[i].ID, transition)
	if err != nil {
		w.t.Fatal(err)
	}
	return lifecycle.Action{InstanceID: w.instances[i].ID, Transition: transition, Token: token, Hook: hook, Group: w.group,
		EventTime: time.Now().UTC()}
}

func (w *world) manager(cfg lifecycle.Config) *lifecycle.Manager {
	w.t.Helper()
	m, err := lifecycle.New(cfg, w.asg, w.plane.Client, clock.RealClock{}, zaptest.NewLogger(w.t), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return m
}

func (w *world) drainer() *drain.Drainer {
	w.t.Helper()
	d, err := drain.New(w.plane.Client, drain.DefaultPolicy(), clock.RealClock{}, zaptest.NewLogger(w.t))
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

// heldNode makes the node of instance 0 with a ReplicaSet app of replicas
// pods (grace seconds each, kwok's delete delay), and begins a termination
// action for the instance on the terminate hook.
func (w *world) heldNode(app string, replicas int32, grace int64, delay time.Duration) (string, lifecycle.Action) {
	w.t.Helper()
	node := w.node(0)
	if err := w.plane.PinnedReplicaSet(context.Background(), w.ns, app, node, replicas, grace, delay); err != nil {
		w.t.Fatal(err)
	}
	return node, w.begin(0, terminateHook, lifecycle.Terminating)
}

// checkCompleted fails the test unless moto has the action with token
// completed with result; why follows the message ("" or " (...)").
func (w *world) checkCompleted(token, result, why string) {
	w.t.Helper()
	if st := w.action(token); st.State != "completed" || st.Result != result {
		w.t.Errorf("moto's action: %s %s, want completed %s%s", st.State, st.Result, result, why)
	}
}

// action returns moto's state of the action with token.
func (w *world) action(token string) testenv.LifecycleAction {
	w.t.Helper()
	all, err := w.moto.LifecycleActions()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, a := range all {
		if a.Token == token {
			return a
		}
	}
	w.t.Fatalf("moto has no action %s", token)
	return testenv.LifecycleAction{}
}

// calls returns moto's recorded calls of api for token.
func (w *world) calls(api, token string) []testenv.LifecycleCall {
	w.t.Helper()
	all, err := w.moto.LifecycleCalls()
	if err != nil {
		w.t.Fatal(err)
	}
	var out []testenv.LifecycleCall
	for _, c := range all {
		if c.Action == api && c.Token == token {
			out = append(out, c)
		}
	}
	return out
}

// callTimes returns when each of calls was made.
func callTimes(calls []testenv.LifecycleCall) []time.Time {
	var at []time.Time
	for _, c := range calls {
		at = append(at, c.Time)
	}
	return at
}

// finder is a NodeFinder over an informer indexed by the instance ID in
// spec.providerID, as the controller's.
func (w *world) finder(ctx context.Context) lifecycle.NodeFinder {
	w.t.Helper()
	f := informers.NewSharedInformerFactory(w.plane.Client, 0)
	inf := f.Core().V1().Nodes().Informer()
	if err := inf.AddIndexers(cache.Indexers{"instance": func(obj any) ([]string, error) {
		n := obj.(*corev1.Node)
		if n.Spec.ProviderID == "" {
			return nil, nil
		}
		return []string{path.Base(n.Spec.ProviderID)}, nil
	}}); err != nil {
		w.t.Fatal(err)
	}
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	return func(id string) (*corev1.Node, bool) {
		objs, _ := inf.GetIndexer().ByIndex("instance", id)
		if len(objs) == 0 {
			return nil, false
		}
		return objs[0].(*corev1.Node), true
	}
}
