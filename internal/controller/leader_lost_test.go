package controller

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// TestLostLeaseKeptUntilTheTermWindsDown: the leader's renewals time out
// for a little over RenewDeadline (a slow apiserver), then the API answers
// again, and a second replica stands as a candidate. The Lease must not be
// given up while the lost term still winds down (its drain held), so the
// other replica cannot lead before it has. With client-go's ReleaseOnCancel
// the elector wrote an empty holder as soon as the renewal failed, before
// it even ended the term's context, and the other replica led within 1.3 s.
func TestLostLeaseKeptUntilTheTermWindsDown(t *testing.T) {
	kube := fake.NewClientset()
	var brownout atomic.Bool
	var failed atomic.Int32
	kube.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if !brownout.Load() {
			return false, nil, nil
		}
		l := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease)
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
			return false, nil, nil
		}
		time.Sleep(600 * time.Millisecond) // a slow apiserver: the renewal times out
		if failed.Add(1) >= 2 {
			brownout.Store(false) // ... and then the apiserver is fine again
		}
		return true, nil, errors.New("context deadline exceeded")
	})
	h := newHeldLeader(t, kube)
	c, logs, started := h.c, h.logs, h.started
	c.cfg.LeaseDuration = 6 * time.Second // others wait 6 s after the last renewal
	ctx, release := h.lead(t)
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("drain never started")
	}
	// A second replica stands as a candidate with the same timings.
	var otherLeads atomic.Bool
	other, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{LeaseMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "l"}, Client: kube.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: "other"}},
		LeaseDuration: 6 * time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond, Name: "l",
		Callbacks: leaderelection.LeaderCallbacks{OnStartedLeading: func(context.Context) { otherLeads.Store(true) }, OnStoppedLeading: func() {}},
	})
	if err != nil {
		t.Fatal(err)
	}
	go other.Run(ctx)
	brownout.Store(true)
	t0, said := time.Now(), false
	defer func() {
		if otherLeads.Load() {
			t.Errorf("the other replica began leading while the first term was still winding down (its drain held)")
		}
	}()
	holder := func() string { return leaseHolder(kube) }
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		wound := logs.FilterMessage("no longer leading: receiving stopped, drains stopped (the next leader resumes them)").Len() > 0
		if h := holder(); h != "me" && !wound && !said {
			t.Errorf("after %v the Lease's holder is %q while the lost term still winds down (its drain still runs)", time.Since(t0).Round(time.Millisecond), h)
			said = true
		}
		if otherLeads.Load() && !wound {
			t.Errorf("after %v replica \"other\" leads while the lost term of \"me\" still runs its drain", time.Since(t0).Round(time.Millisecond))
			break
		}
	}
	if otherLeads.Load() && logs.FilterMessage("no longer leading: receiving stopped, drains stopped (the next leader resumes them)").Len() == 0 {
		t.Errorf("two leaders: replica \"other\" leads while \"me\"'s term still runs its drain")
	}
	release()
}
