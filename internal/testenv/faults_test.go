package testenv

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestFaults drives every kind of rule against the real apiserver through
// one proxy.
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the local control plane")
	}
	p := Start(t)
	f := p.Faults(t)
	ctx := context.Background()
	ns := p.NewNamespace(t)
	nsPath := "^/api/v1/namespaces/" + ns + "$"

	t.Run("passes through, also from the kubeconfig", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", f.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := f.Count(Match{Method: "GET", Path: nsPath}); n != 1 {
			t.Errorf("logged %d GETs of the namespace, want 1", n)
		}
	})

	t.Run("status after a request passed, K times", func(t *testing.T) {
		fl := f.Add(Rule{Match: Match{Method: "GET", Path: nsPath, Query: "resourceVersion=0"},
			After: &Match{Method: "PATCH", Path: nsPath}, Times: 2, Status: 503, Message: "etcd leader changed"})
		get := func() error {
			_, err := f.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{ResourceVersion: "0"})
			return err
		}
		if err := get(); err != nil {
			t.Fatalf("before the PATCH: %v", err)
		}
		patch := []byte(`{"metadata":{"labels":{"x":"y"}}}`)
		if _, err := f.Client.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			err := get()
			if !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), "etcd leader changed") {
				t.Fatalf("GET %d after the PATCH: %v, want the injected 503 with its message", i, err)
			}
		}
		if err := get(); err != nil {
			t.Fatalf("after 2 hits: %v", err)
		}
		if fl.Hits() != 2 || !fl.Armed() {
			t.Errorf("hits %d armed %v", fl.Hits(), fl.Armed())
		}
		fl.Remove()
	})

	t.Run("every Nth request", func(t *testing.T) {
		fl := f.Add(Rule{Match: Match{Method: "GET", Path: nsPath}, Every: 3, Status: 503})
		defer fl.Remove()
		failed := 0
		for range 9 {
			if _, err := f.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsServiceUnavailable(err) {
				failed++
			}
		}
		if failed != 3 || fl.Hits() != 3 {
			t.Errorf("%d of 9 failed (hits %d), want every 3rd", failed, fl.Hits())
		}
	})

	t.Run("429 carries Retry-After, which client-go honours", func(t *testing.T) {
		fl := f.Add(Rule{Match: Match{Method: "GET", Path: nsPath}, Times: 1, Status: 429, RetryAfter: 1})
		defer fl.Remove()
		start := time.Now()
		before := f.Count(Match{Method: "GET", Path: nsPath})
		if _, err := f.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		if took, n := time.Since(start), f.Count(Match{Method: "GET", Path: nsPath})-before; n != 2 || took < 900*time.Millisecond {
			t.Errorf("%d requests in %v, want the 429 retried once after Retry-After", n, took)
		}
	})

	t.Run("hang until the client gives up, or until released", func(t *testing.T) {
		fl := f.Add(Rule{Match: Match{Method: "GET", Path: nsPath}, Hang: true})
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := f.Client.CoreV1().Namespaces().Get(short, ns, metav1.GetOptions{})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("held GET: %v, want the client's deadline", err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := f.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			done <- err
		}()
		select {
		case err := <-done:
			t.Fatalf("GET answered while held: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		fl.Release()
		if err := <-done; err != nil {
			t.Fatalf("released GET: %v", err)
		}
	})

	t.Run("reset and delay", func(t *testing.T) {
		fl := f.Add(Rule{Match: Match{Method: "PATCH", Path: nsPath}, Times: 1, Reset: true})
		patch := []byte(`{"metadata":{"labels":{"r":"s"}}}`)
		if _, err := f.Client.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, patch, metav1.PatchOptions{}); err == nil || apierrors.ReasonForError(err) != metav1.StatusReasonUnknown {
			t.Fatalf("reset PATCH: %v, want a connection error", err)
		}
		fl.Remove()
		// client-go retries a GET whose connection was reset by itself.
		fl = f.Add(Rule{Match: Match{Method: "GET", Path: nsPath}, Times: 1, Reset: true})
		before := f.Count(Match{Method: "GET", Path: nsPath})
		if _, err := f.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Fatalf("GET after a reset: %v", err)
		}
		if n := f.Count(Match{Method: "GET", Path: nsPath}) - before; n != 2 || fl.Hits() != 1 {
			t.Errorf("%d GETs logged, want the reset one and client-go's retry", n)
		}
		fl.Remove()
		fl = f.Add(Rule{Match: Match{Method: "GET", Path: nsPath}, Times: 1, Delay: 500 * time.Millisecond})
		defer fl.Remove()
		start := time.Now()
		if _, err := f.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil || time.Since(start) < 500*time.Millisecond {
			t.Fatalf("delayed GET: %v after %v", err, time.Since(start))
		}
	})

	t.Run("watches stream, and a cut ends one early", func(t *testing.T) {
		w, err := f.Client.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: ns}}
		if _, err := p.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Added {
				t.Fatalf("event %v", ev.Type)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no watch event through the proxy in 10s: not streamed")
		}
		fl := f.Add(Rule{Match: Match{Method: "GET", Path: "/configmaps$", Query: "watch=true"}, Times: 1, Cut: 300 * time.Millisecond})
		defer fl.Remove()
		w2, err := f.Client.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for range w2.ResultChan() {
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("cut watch ran %v", took)
		}
	})

	t.Run("the log counts evictions per pod UID", func(t *testing.T) {
		grace := int64(0)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "victim", Namespace: ns},
			Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &grace, Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
		pod, err := p.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fl := f.Add(Rule{Match: Match{Method: "POST", Path: EvictionPath}, Times: 1, Status: 500,
			Message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."})
		defer fl.Remove()
		ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: ns},
			DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}}}
		if err := f.Client.PolicyV1().Evictions(ns).Evict(ctx, ev); !apierrors.IsInternalError(err) {
			t.Fatalf("first eviction: %v, want the injected 500", err)
		}
		if err := f.Client.PolicyV1().Evictions(ns).Evict(ctx, ev); err != nil {
			t.Fatalf("second eviction: %v", err)
		}
		if got := f.Evictions()[pod.UID]; got != 2 {
			t.Errorf("evictions of %s: %d, want 2 (log %v)", pod.UID, got, f.Evictions())
		}
		var statuses []int
		for _, l := range f.Requests() {
			if l.IsEviction() {
				statuses = append(statuses, l.Status)
			}
		}
		if len(statuses) != 2 || statuses[0] != http.StatusInternalServerError || statuses[1] != http.StatusCreated {
			t.Errorf("eviction statuses %v, want [500 201]", statuses)
		}
	})
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		m                   Match
		method, path, query string
		want                bool
	}{
		{Match{}, "GET", "/api/v1/pods", "", true},
		{Match{Method: "get"}, "GET", "/x", "", true},
		{Match{Method: "POST"}, "GET", "/x", "", false},
		{Match{Path: EvictionPath}, "POST", "/api/v1/namespaces/a/pods/b/eviction", "", true},
		{Match{Path: EvictionPath}, "POST", "/api/v1/namespaces/a/pods/b", "", false},
		{Match{Query: "spec.nodeName=n1"}, "GET", "/api/v1/pods", "fieldSelector=spec.nodeName=n1&limit=500", true},
		{Match{Query: "watch=true"}, "GET", "/api/v1/pods", "fieldSelector=spec.nodeName=n1", false},
		{Match{Path: "("}, "GET", "/x", "", false},
	} {
		if got := c.m.matches(c.method, c.path, c.query); got != c.want {
			t.Errorf("%+v on %s %s?%s = %v", c.m, c.method, c.path, c.query, got)
		}
	}
}
