package drain

import (
	"context"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	appsclient "k8s.io/client-go/kubernetes/typed/apps/v1"
	coreclient "k8s.io/client-go/kubernetes/typed/core/v1"
)

// podSource is the client kubectl's drain Helper gets from choose: its pod
// LIST is answered with the one pod the drain asks about (the drain's
// tracker already has it), and the DaemonSet GETs go to the API, keeping
// the error of a failed one. kubectl's filters turn that error into a
// message; the drain needs the error itself, to retry it (honouring
// Retry-After) and report it.
type podSource struct {
	kubernetes.Interface
	pod corev1.Pod

	mu  sync.Mutex
	err error
}

// CoreV1 answers the pod LIST with the pod; everything else goes on.
func (c *podSource) CoreV1() coreclient.CoreV1Interface {
	return sourceCore{CoreV1Interface: c.Interface.CoreV1(), c: c}
}

// AppsV1 records DaemonSet GETs that fail for a reason other than NotFound.
func (c *podSource) AppsV1() appsclient.AppsV1Interface {
	return sourceApps{AppsV1Interface: c.Interface.AppsV1(), c: c}
}

func (c *podSource) lookupErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

type sourceCore struct {
	coreclient.CoreV1Interface
	c *podSource
}

func (s sourceCore) Pods(ns string) coreclient.PodInterface {
	return sourcePods{PodInterface: s.CoreV1Interface.Pods(ns), c: s.c}
}

type sourcePods struct {
	coreclient.PodInterface
	c *podSource
}

func (s sourcePods) List(context.Context, metav1.ListOptions) (*corev1.PodList, error) {
	return &corev1.PodList{Items: []corev1.Pod{s.c.pod}}, nil
}

type sourceApps struct {
	appsclient.AppsV1Interface
	c *podSource
}

func (s sourceApps) DaemonSets(ns string) appsclient.DaemonSetInterface {
	return sourceDaemonSets{DaemonSetInterface: s.AppsV1Interface.DaemonSets(ns), c: s.c}
}

type sourceDaemonSets struct {
	appsclient.DaemonSetInterface
	c *podSource
}

func (s sourceDaemonSets) Get(ctx context.Context, name string, opts metav1.GetOptions) (*appsv1.DaemonSet, error) {
	ds, err := s.DaemonSetInterface.Get(ctx, name, opts)
	if err != nil && !apierrors.IsNotFound(err) {
		s.c.mu.Lock()
		s.c.err = err
		s.c.mu.Unlock()
	}
	return ds, err
}
