package soak

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/testenv"
)

// run is one scenario being played: its node, namespace, instance, the
// agent with its proxies (agent and both modes), and what happened.
type run struct {
	w     *world
	sc    Scenario
	node  string
	ns    string
	group string
	inst  testenv.GroupInstance
	token string // the terminate action's (ASGHook)

	agent *proc
	api   *testenv.Faults // the agent's API proxy
	imds  *testenv.Faults // the agent's IMDS proxy
	aemms []*testenv.AEMM

	mu          sync.Mutex
	noticeAt    time.Time // when the instance's going-away notice appeared
	withdrawnAt time.Time
	uncordoned  time.Time // first seen schedulable again after its cordon, before the deadline
	notes       []string
	releases    []func()
	bg          sync.WaitGroup
	cancel      context.CancelFunc
}

func (r *run) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf("+%v ", time.Since(r.noticeAtOr()).Round(10*time.Millisecond))+fmt.Sprintf(format, args...))
}

// noticeAtOr is the notice's time, or now before it (r.mu held).
func (r *run) noticeAtOr() time.Time {
	if r.noticeAt.IsZero() {
		return time.Now()
	}
	return r.noticeAt
}

// release registers a function that undoes a fault at teardown.
func (r *run) release(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releases = append(r.releases, f)
}

// setup makes the scenario's instance, node, workload and (agent, both)
// agent with its proxies and quiet metadata.
func (w *world) setup(sc Scenario) (*run, error) {
	r := &run{w: w, sc: sc, node: fmt.Sprintf("%s-w%02d-n%02d", w.opt.name, sc.Wave, sc.Node)}
	r.ns, r.group = r.node, "asg-"+r.node
	ctx := w.ctx
	insts, err := moto.CreateGroup(ctx, r.group, 1)
	if err != nil {
		return r, err
	}
	r.inst = insts[0]
	if err := moto.TagGroup(ctx, r.group, map[string]string{"kubernetes.io/cluster/" + w.cluster(): "owned"}); err != nil {
		return r, err
	}
	if sc.Signal == ASGHook {
		if err := putHook(ctx, w, r.group); err != nil {
			return r, err
		}
	}
	w.obs.track(r.node)
	if _, err := plane.NewNode(ctx, r.node, map[string]string{homeKey(r.node): "true"}); err != nil {
		return r, err
	}
	patch := fmt.Sprintf(`{"spec":{"providerID":%q}}`, r.inst.ProviderID())
	if _, err := plane.Client.CoreV1().Nodes().Patch(ctx, r.node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return r, fmt.Errorf("setting providerID of %s: %w", r.node, err)
	}
	if err := plane.CreateNamespace(ctx, r.ns); err != nil {
		return r, err
	}
	if err := buildWorkload(ctx, sc, r.ns, r.node); err != nil {
		return r, err
	}
	if sc.Workload.Room {
		if err := makeRoom(ctx, r.node, w.stable); err != nil {
			return r, err
		}
	}
	if sc.Mode == Controller {
		return r, nil
	}
	return r, r.startAgent()
}

// putHook gives group a termination hook "drain" (30 s heartbeat timeout,
// ABANDON by default: a lapsed hold shows as timed out, never as CONTINUE).
func putHook(ctx context.Context, w *world, group string) error {
	if _, err := w.asg.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{AutoScalingGroupName: &group,
		LifecycleHookName: aws.String("drain"), LifecycleTransition: aws.String(lifecycle.Terminating),
		HeartbeatTimeout: aws.Int32(30), DefaultResult: aws.String("ABANDON")}); err != nil {
		return fmt.Errorf("PutLifecycleHook on %s: %w", group, err)
	}
	return nil
}

// startAgent starts a quiet AEMM behind an IMDS proxy, an API proxy, and
// the agent for the node through both.
func (r *run) startAgent() error {
	quiet, err := testenv.StartAEMMProcess("spot", "--imdsv2", "-d", "100000", "--rebalance-delay-sec", "100000")
	if err != nil {
		return err
	}
	r.aemms = append(r.aemms, quiet)
	if r.imds, err = testenv.NewHTTPFaults(quiet.URL); err != nil {
		return err
	}
	if r.api, err = plane.NewFaults(); err != nil {
		return err
	}
	args := []string{"--node-name", r.node, "--kubeconfig", r.api.Kubeconfig, "--imds-endpoint", r.imds.URL,
		"--drain-margin", r.w.opt.margin.String()}
	args = append(args, r.w.opt.extra...)
	r.agent, err = startProc("agent on "+r.node, func() (*testenv.Child, error) {
		c, err := testenv.StartChild("the agent", binary, "agent", args,
			[]string{"POD_NAMESPACE=kube-system", "POD_NAME=spot-handler-" + r.node})
		if err != nil {
			return nil, err
		}
		return c, c.WaitReady("agent on "+r.node, 60*time.Second, 20*time.Millisecond)
	})
	return err
}

// play runs the scenario from the wave's start t0 until it settles, and
// returns its outcome.
func (r *run) play(t0 time.Time) Outcome {
	ctx, cancel := context.WithCancel(r.w.ctx)
	r.cancel = cancel
	signalAt := t0.Add(r.sc.Jitter)
	notice := signalAt
	if r.sc.Signal == RebalanceThenSpot {
		notice = signalAt.Add(rebalanceLead)
	}
	r.mu.Lock()
	r.noticeAt = notice
	r.mu.Unlock()
	r.bg.Go(func() { r.signal(ctx, signalAt) })
	r.scheduleFaults(ctx, notice)
	r.scheduleWorkload(ctx, notice)
	r.settle(notice)
	out := r.verdict(notice)
	cancel()
	return out
}

// rebalanceLead is how long after a rebalance recommendation the
// interruption comes (RebalanceThenSpot).
const rebalanceLead = 15 * time.Second

// at runs f at time when, in the background, unless ctx ends first.
func (r *run) at(ctx context.Context, when time.Time, f func()) {
	r.bg.Go(func() {
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(when)):
			f()
		}
	})
}

// scheduleWorkload binds the late pods and deletes pods as someone else.
func (r *run) scheduleWorkload(ctx context.Context, notice time.Time) {
	rng := Rand(r.sc.Seed, r.sc.Wave, r.sc.Node+waveDraw/2)
	for i := range r.sc.Workload.LatePods {
		r.at(ctx, notice.Add(time.Duration(1000+rng.IntN(9000))*time.Millisecond), func() {
			if err := latePod(ctx, r.sc, r.ns, r.node, i); err != nil {
				r.note("late pod %d not created: %v", i, err)
				return
			}
			r.note("late pod late-%d bound to the node", i)
		})
	}
	if n := r.sc.Workload.Deleted; n > 0 {
		r.at(ctx, notice.Add(time.Duration(2000+rng.IntN(18000))*time.Millisecond), func() {
			names, err := deleteSome(ctx, rng, r.ns, r.node, n)
			r.note("deleted by someone else: %v (err %v)", names, err)
		})
	}
}

// settle waits until the node has been empty of pods that must leave for
// settleQuiet after the late pods came, the notice was withdrawn and the
// node schedulable again, or the deadline − margin passed.
func (r *run) settle(notice time.Time) {
	earliest := notice.Add(r.sc.LastAction()) // every drawn action has happened
	var emptySince time.Time
	for {
		time.Sleep(250 * time.Millisecond)
		now := time.Now()
		if now.After(r.goneBy(notice).Add(time.Second)) {
			return
		}
		if !r.sc.Withdrawn() && r.w.obs.nodeOf(r.node).Schedulable && !r.w.obs.nodeOf(r.node).Cordoned.IsZero() {
			r.mu.Lock()
			if r.uncordoned.IsZero() {
				r.uncordoned = now
			}
			r.mu.Unlock()
		}
		if r.sc.Withdrawn() {
			r.mu.Lock()
			w := r.withdrawnAt
			r.mu.Unlock()
			if !w.IsZero() && (r.w.obs.nodeOf(r.node).Schedulable && now.Sub(w) > 3*time.Second || now.Sub(w) > 60*time.Second) {
				return
			}
			continue
		}
		if len(r.w.obs.leftOn(r.node)) > 0 {
			emptySince = time.Time{}
			continue
		}
		if emptySince.IsZero() {
			emptySince = now
		}
		if now.After(earliest) && now.Sub(emptySince) >= settleQuiet {
			return
		}
	}
}

// goneBy is when the scenario's pods must be gone (Scenario.GoneBy). An
// ASG target lifecycle state carries no time: the agent's window counts
// from when the state could first be read (Scenario.Visible).
func (r *run) goneBy(notice time.Time) time.Time {
	if r.sc.Signal == ASGTerminated {
		return r.sc.GoneBy(r.sc.Visible(notice), r.w.opt.margin)
	}
	return r.sc.GoneBy(notice, r.w.opt.margin)
}

// teardown stops the agent and proxies, releases the faults, and deletes
// the node and namespace (as the instance's end would).
func (r *run) teardown() {
	if r.cancel != nil {
		r.cancel()
	}
	r.mu.Lock()
	rel := r.releases
	r.releases = nil
	r.mu.Unlock()
	for _, f := range rel {
		f()
	}
	r.bg.Wait()
	if r.agent != nil {
		r.agent.stop()
	}
	if r.api != nil {
		r.api.Close()
	}
	if r.imds != nil {
		r.imds.Close()
	}
	for _, a := range r.aemms {
		a.Stop()
	}
	ctx := context.Background()
	dropRoom(ctx, r.node, r.w.stable)
	_ = plane.Client.CoreV1().Nodes().Delete(ctx, r.node, metav1.DeleteOptions{})
	_ = plane.Client.CoreV1().Namespaces().Delete(ctx, r.ns, metav1.DeleteOptions{})
	r.w.obs.forget(r.node)
}
