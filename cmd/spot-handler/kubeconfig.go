package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/spot-handler/spot-handler/internal/agent"
)

// kubeconfigHelp is --kubeconfig's help, the same in every subcommand.
const kubeconfigHelp = "kubeconfig file; empty means kubectl's rules: the files in $KUBECONFIG (a list), else ~/.kube/config, else in-cluster (the pod's service account)"

// kubeSource is where the Kubernetes client's configuration comes from:
// --kubeconfig and --context.
type kubeSource struct {
	kubeconfig, context string
}

// restConfig loads the client configuration as kubectl does (client-go's
// loading rules): --kubeconfig if set, else the files listed in
// $KUBECONFIG merged, else ~/.kube/config, else the in-cluster
// configuration; --context picks a context other than the current one.
// getenv supplies KUBECONFIG and HOME.
func (s kubeSource) restConfig(getenv func(string) string) (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: s.kubeconfig}
	if list := getenv("KUBECONFIG"); list != "" {
		rules.Precedence = filepath.SplitList(list)
	} else if home := getenv("HOME"); home != "" {
		rules.Precedence = []string{filepath.Join(home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)}
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: s.context})
	cfg, err := cc.ClientConfig()
	switch {
	case err == nil:
		return cfg, nil
	case s.kubeconfig != "":
		return nil, fmt.Errorf("--kubeconfig %s: %w", s.kubeconfig, err)
	case clientcmd.IsEmptyConfig(err) || errors.Is(err, rest.ErrNotInCluster):
		return nil, errors.New("no kubeconfig and not in a cluster: pass --kubeconfig, set KUBECONFIG, write ~/.kube/config or run as a pod")
	case s.context != "":
		return nil, fmt.Errorf("--context %s: %w", s.context, err)
	}
	return nil, fmt.Errorf("loading the kubeconfig (%s): %w", rules.Precedence, err)
}

// kubeClient builds a clientset from src whose calls but watches end after
// timeout (0: no bound); it does not contact the server.
func kubeClient(src kubeSource, qps float64, burst int, timeout time.Duration, getenv func(string) string) (kubernetes.Interface, error) {
	cfg, err := src.restConfig(getenv)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = float32(qps), burst
	cfg.UserAgent = "spot-handler"
	// Protobuf, as the kube-controller-manager speaks: the API server
	// encodes each node, pod and watch event for this client at a fraction
	// of JSON's cost, which in a storm is the API server's CPU the cordons
	// and evictions wait for (docs/performance.md). Patches stay JSON.
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	agent.BoundCalls(cfg, timeout)
	return kubernetes.NewForConfig(cfg)
}
