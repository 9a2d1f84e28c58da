package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spot-handler/spot-handler/internal/testenv"
)

// The real-plane tests of this package share one local control plane and
// one built binary, started by the first test that needs them.
var shared struct {
	planeOnce, binOnce sync.Once
	plane              *testenv.Plane
	planeErr           error
	binDir, bin        string
	binErr             error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.plane != nil {
		shared.plane.Stop()
	}
	if shared.binDir != "" {
		os.RemoveAll(shared.binDir)
	}
	os.Exit(code)
}

// mustPlane returns the shared plane (no scheduler: these tests place no pods).
func mustPlane(t *testing.T) *testenv.Plane {
	t.Helper()
	shared.planeOnce.Do(func() {
		shared.plane, shared.planeErr = testenv.StartPlane(testenv.Options{NoScheduler: true})
	})
	if shared.planeErr != nil {
		t.Fatalf("starting the local control plane: %v", shared.planeErr)
	}
	return shared.plane
}

// mustBinary returns the spot-handler binary, built once as the image builds it.
func mustBinary(t *testing.T) string {
	t.Helper()
	shared.binOnce.Do(func() {
		if shared.binDir, shared.binErr = os.MkdirTemp("", "spot-handler-cmd-"); shared.binErr == nil {
			shared.bin, shared.binErr = testenv.BuildAgent(shared.binDir)
		}
	})
	if shared.binErr != nil {
		t.Fatal(shared.binErr)
	}
	return shared.bin
}

// mustNode creates a bare Node named for t (no kubelet: nothing runs on it).
func mustNode(t *testing.T, p *testenv.Plane, name string) {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := p.Client.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
		t.Fatal(fmt.Errorf("creating node %s: %w", name, err))
	}
	t.Cleanup(func() { _ = p.Client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
}
