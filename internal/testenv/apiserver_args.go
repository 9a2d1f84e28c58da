package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// RestartAPIServerWith stops kube-apiserver and starts it again with its
// usual flags followed by extra (a later flag wins, so extra can lower
// --max-requests-inflight, say). RestartAPIServerWith() restores the usual
// flags. The port, data and credentials stay the same, so clients and the
// other peers reconnect.
func (p *Plane) RestartAPIServerWith(extra ...string) error {
	p.StopAPIServer()
	p.mu.Lock()
	p.apiExtra = slices.Clone(extra)
	p.mu.Unlock()
	return p.StartAPIServer()
}

// apiServerArgs is the usual flags followed by those RestartAPIServerWith set.
func (p *Plane) apiServerArgs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append(slices.Clip(p.apiArgs), p.apiExtra...)
}

// ServiceAccountConfig returns a client config that authenticates as the
// ServiceAccount ns/name (which must exist) with a token from the
// TokenRequest API, valid for an hour, and a kubeconfig file for it, for
// subprocesses. Unlike Config, it is not in system:masters: API Priority
// and Fairness classifies its requests.
func (p *Plane) ServiceAccountConfig(ctx context.Context, ns, name string) (*rest.Config, string, error) {
	hour := int64(3600)
	tr, err := p.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("token for ServiceAccount %s/%s: %w", ns, name, err)
	}
	cfg := rest.CopyConfig(p.Config)
	cfg.BearerToken = tr.Status.Token
	dir := filepath.Join(p.Dir, "serviceaccounts", ns+"-"+name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	kc, err := writeKubeconfig(dir, cfg)
	return cfg, kc, err
}

// APIServerMetrics returns kube-apiserver's /metrics text (read as the admin).
func (p *Plane) APIServerMetrics(ctx context.Context) (string, error) {
	b, err := p.Client.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("kube-apiserver /metrics: %w", err)
	}
	return string(b), nil
}

// SumSamples returns the sum of the samples of name in the Prometheus text
// exposition text whose label sets contain every `label="value"` in match.
func SumSamples(text, name string, match ...string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? (\S+)$`)
	sum := 0.0
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		ok := true
		for _, kv := range match {
			ok = ok && strings.Contains(m[1], kv)
		}
		if ok {
			v, _ := strconv.ParseFloat(m[2], 64)
			sum += v
		}
	}
	return sum
}
