package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Options tunes StartPlane. The zero value starts the whole plane.
type Options struct {
	// Dir holds the peers' data and logs; "" means a new temp folder,
	// removed by Stop.
	Dir string
	// NoScheduler leaves kube-scheduler out: pods then bind only by nodeName.
	NoScheduler bool
	// Progress receives one line per peer started; nil means discard.
	Progress io.Writer
}

// Plane is a running local control plane.
type Plane struct {
	// Config is an admin (system:masters) client config for the apiserver.
	Config *rest.Config
	// Client is a clientset built from Config.
	Client kubernetes.Interface
	// Kubeconfig is a kubeconfig file for Config, for subprocesses.
	Kubeconfig string
	// Dir holds data and logs (etcd.log, kube-apiserver.log, ...).
	Dir string
	// StartupTime is how long StartPlane took until the apiserver was ready.
	StartupTime time.Duration

	ownDir    bool
	progress  io.Writer
	mu        sync.Mutex
	etcd      *process
	apiserver *process
	others    []*process
	apiBin    string
	apiArgs   []string
	apiExtra  []string // flags after apiArgs (RestartAPIServerWith)
}

// Start starts a plane for a test and stops it in t's cleanup. It fails the
// test, with the reason and log tail, if the plane cannot start.
func Start(tb testing.TB) *Plane {
	tb.Helper()
	p, err := StartPlane(Options{})
	if err != nil {
		tb.Fatalf("starting the local control plane: %v", err)
	}
	tb.Cleanup(p.Stop)
	return p
}

// StartPlane starts etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok on loopback and returns when the apiserver answers
// /readyz. Nodes created with NewNode are then made Ready by kwok.
func StartPlane(opts Options) (_ *Plane, err error) {
	t0 := time.Now()
	p := &Plane{Dir: opts.Dir, progress: opts.Progress}
	if p.progress == nil {
		p.progress = io.Discard
	}
	if p.Dir == "" {
		if p.Dir, err = os.MkdirTemp("", "spot-handler-plane-"); err != nil {
			return nil, fmt.Errorf("creating plane folder: %w", err)
		}
		p.ownDir = true
	}
	defer func() {
		if err != nil {
			p.Stop()
		}
	}()
	bins := map[string]string{}
	for name, v := range map[string]string{"etcd": EtcdVersion, "kube-apiserver": KubeVersion,
		"kube-controller-manager": KubeVersion, "kube-scheduler": KubeVersion, "kwok": KwokVersion} {
		if bins[name], err = Binary(name, v); err != nil {
			return nil, err
		}
	}
	stages, err := kwokStages()
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := "http://127.0.0.1:" + itoa(ports[0])
	if err := p.startEtcd(bins["etcd"], etcdURL, ports[1]); err != nil {
		return nil, err
	}
	if err := p.startAPIServer(bins["kube-apiserver"], etcdURL, ports[2]); err != nil {
		return nil, err
	}
	p.StartupTime = time.Since(t0)
	if p.Kubeconfig, err = writeKubeconfig(p.Dir, p.Config); err != nil {
		return nil, err
	}
	kcm := []string{"--kubeconfig=" + p.Kubeconfig, "--leader-elect=false", "--secure-port=0",
		"--controllers=*,-serviceaccount-token", "--kube-api-qps=200", "--kube-api-burst=400",
		"--concurrent-replicaset-syncs=10", "--concurrent-deployment-syncs=10"}
	if err := p.startOther("kube-controller-manager", bins["kube-controller-manager"], kcm); err != nil {
		return nil, err
	}
	if !opts.NoScheduler {
		sched := []string{"--kubeconfig=" + p.Kubeconfig, "--leader-elect=false", "--secure-port=0",
			"--kube-api-qps=200", "--kube-api-burst=400"}
		if err := p.startOther("kube-scheduler", bins["kube-scheduler"], sched); err != nil {
			return nil, err
		}
	}
	kwokOpts, err := writeKwokOptions(p.Dir)
	if err != nil {
		return nil, err
	}
	kwok := []string{"--kubeconfig=" + p.Kubeconfig, "--config=" + stages, "--config=" + kwokOpts,
		"--manage-nodes-with-annotation-selector=" + kwokAnnotation + "=fake",
		"--server-address=127.0.0.1:0", "--node-lease-duration-seconds=40"}
	if err := p.startOther("kwok", bins["kwok"], kwok); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Plane) startEtcd(bin, clientURL string, peerPort int) error {
	peerURL := "http://127.0.0.1:" + itoa(peerPort)
	args := []string{"--name=default", "--data-dir=" + filepath.Join(p.Dir, "etcd"),
		"--listen-client-urls=" + clientURL, "--advertise-client-urls=" + clientURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL, "--unsafe-no-fsync", "--log-level=warn"}
	proc, err := startProcess("etcd", p.Dir, bin, args, nil)
	if err != nil {
		return err
	}
	p.etcd = proc
	fmt.Fprintf(p.progress, "etcd on %s\n", clientURL)
	err = waitFor(proc, 30*time.Second, func() error {
		resp, err := http.Get(clientURL + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/health: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		return proc.failure("starting etcd", err)
	}
	return nil
}

func (p *Plane) startAPIServer(bin, etcdURL string, port int) error {
	saKey, err := writeServiceAccountKey(p.Dir)
	if err != nil {
		return err
	}
	token := randomToken()
	tokens, err := writeTokenFile(p.Dir, token)
	if err != nil {
		return err
	}
	certDir := filepath.Join(p.Dir, "apiserver-certs")
	p.apiBin = bin
	p.apiArgs = []string{"--etcd-servers=" + etcdURL, "--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1", "--secure-port=" + itoa(port), "--cert-dir=" + certDir,
		"--token-auth-file=" + tokens, "--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file=" + saKey,
		"--service-account-signing-key-file=" + saKey, "--service-cluster-ip-range=10.96.0.0/16",
		"--endpoint-reconciler-type=none", "--allow-privileged=true",
		"--disable-admission-plugins=ServiceAccount", "--shutdown-delay-duration=0s",
		"--shutdown-send-retry-after=false", "--max-requests-inflight=1000", "--max-mutating-requests-inflight=500"}
	p.Config = &rest.Config{Host: "https://127.0.0.1:" + itoa(port), BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(certDir, "apiserver.crt")},
		QPS:             500, Burst: 1000}
	if err := p.StartAPIServer(); err != nil {
		return err
	}
	p.Client, err = kubernetes.NewForConfig(p.Config)
	return err
}

// StartAPIServer (re)starts kube-apiserver with the same port, data and
// credentials, and waits for /readyz. Use it after StopAPIServer.
func (p *Plane) StartAPIServer() error {
	proc, err := startProcess("kube-apiserver", p.Dir, p.apiBin, p.apiServerArgs(), nil)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.apiserver = proc
	p.mu.Unlock()
	fmt.Fprintf(p.progress, "kube-apiserver %s on %s\n", KubeVersion, p.Config.Host)
	err = waitFor(proc, 90*time.Second, func() error { return p.readyz(context.Background()) })
	if err != nil {
		return proc.failure("starting kube-apiserver", err)
	}
	return nil
}

// StopAPIServer kills kube-apiserver (the rest of the plane keeps running),
// to test what clients do while the API is unreachable.
func (p *Plane) StopAPIServer() {
	p.mu.Lock()
	proc := p.apiserver
	p.mu.Unlock()
	proc.stop(0)
}

// readyz asks the apiserver's /readyz; before the CA file exists it fails.
func (p *Plane) readyz(ctx context.Context) error {
	if _, err := os.Stat(p.Config.CAFile); err != nil {
		return errors.New("serving certificate not written yet")
	}
	c, err := kubernetes.NewForConfig(p.Config)
	if err != nil {
		return err
	}
	body, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("/readyz: %v %s", err, body)
	}
	return nil
}

func (p *Plane) startOther(name, bin string, args []string) error {
	proc, err := startProcess(name, p.Dir, bin, args, nil)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.others = append(p.others, proc)
	p.mu.Unlock()
	fmt.Fprintf(p.progress, "%s started\n", name)
	return nil
}

// PIDs maps each peer's name to its process id, for measuring their memory.
func (p *Plane) PIDs() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := map[string]int{}
	for _, proc := range append([]*process{p.etcd, p.apiserver}, p.others...) {
		if proc != nil && !proc.exited() {
			m[proc.name] = proc.cmd.Process.Pid
		}
	}
	return m
}

// Stop stops every peer (kwok and controllers first, etcd last) and removes
// the folder if StartPlane made it. It is safe to call more than once.
func (p *Plane) Stop() {
	p.mu.Lock()
	others, api, etcd := p.others, p.apiserver, p.etcd
	p.others, p.apiserver, p.etcd = nil, nil, nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, proc := range others {
		wg.Add(1)
		go func() { defer wg.Done(); proc.stop(5 * time.Second) }()
	}
	wg.Wait()
	api.stop(0)
	etcd.stop(5 * time.Second)
	if p.ownDir && os.Getenv("SPOT_HANDLER_KEEP_PLANE") == "" {
		os.RemoveAll(p.Dir)
	}
}
