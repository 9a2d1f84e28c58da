package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/internal/version"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/imds"
)

// Deps are what main makes and hands the agent.
type Deps struct {
	// Kube talks to the API server.
	Kube kubernetes.Interface
	// Registry is served on /metrics; Metrics are registered on it.
	Registry *prometheus.Registry
	Metrics  *metrics.Metrics
	// Logger is the process's logger.
	Logger *zap.Logger
	// Clock is nil for the real clock.
	Clock clock.WithTicker
	// WebhookClient posts webhooks; nil = a client with a 5s timeout.
	WebhookClient *http.Client
}

// Agent is the running DaemonSet process. Make it with New; Run it once.
type Agent struct {
	cfg     Config
	kube    kubernetes.Interface
	reg     *prometheus.Registry
	m       *metrics.Metrics
	log     *zap.Logger
	clock   clock.WithTicker
	actor   drain.Interface
	watcher *imds.Watcher
	imds    *imds.Client
	events  record.EventBroadcaster
	rec     record.EventRecorder
	hook    *webhook

	started  time.Time
	apiReady atomic.Bool
	identity atomic.Pointer[imds.Identity]

	mu      sync.Mutex
	current *activeDrain           // the drain running, if any
	acted   map[string]imds.Notice // notices acted on, by ID, so a cancellation undoes them
	drains  sync.WaitGroup
}

// activeDrain is a drain in progress.
type activeDrain struct {
	notice   imds.Notice
	deadline time.Time
	cancel   context.CancelFunc
	done     chan struct{}
}

// New checks cfg and builds the agent. Its errors are configuration errors.
func New(cfg Config, d Deps) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	a := &Agent{cfg: cfg, kube: d.Kube, reg: d.Registry, m: d.Metrics, log: d.Logger, clock: d.Clock,
		acted: map[string]imds.Notice{}}
	cfg.Policy.SelfNamespace, cfg.Policy.SelfName = cfg.PodNamespace, cfg.PodName
	var err error
	if cfg.DryRun {
		a.actor, err = drain.NewDryRun(d.Kube, cfg.Policy, d.Clock, d.Logger)
	} else {
		a.actor, err = drain.New(d.Kube, cfg.Policy, d.Clock, d.Logger)
	}
	if err != nil {
		return nil, err
	}
	a.imds, err = imds.NewClient(imds.Config{Endpoint: cfg.IMDSEndpoint, PollInterval: cfg.PollInterval,
		Clock: d.Clock, Logger: d.Logger, Observer: d.Metrics})
	if err != nil {
		return nil, err
	}
	a.watcher = imds.NewWatcher(a.imds)
	if a.hook, err = newWebhook(cfg.WebhookURL, cfg.WebhookTemplate, d.WebhookClient, d.Metrics, d.Logger); err != nil {
		return nil, err
	}
	a.events = record.NewBroadcaster()
	a.rec = a.events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "spot-handler", Host: cfg.NodeName})
	d.Metrics.BuildInfo.WithLabelValues(version.Version, version.GoVersion()).Set(1)
	return a, nil
}

// Run runs the agent until ctx ends. If a drain is running then, Run waits
// for it to finish (it ends by its deadline): the node may still need it.
// Run's only errors are listen failures of the metrics and probe servers.
func (a *Agent) Run(ctx context.Context) error {
	a.started = a.clock.Now()
	metricsLn, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listening for metrics on %s (--metrics-addr): %w", a.cfg.MetricsAddr, err)
	}
	probeLn, err := net.Listen("tcp", a.cfg.ProbeAddr)
	if err != nil {
		metricsLn.Close()
		return fmt.Errorf("listening for probes on %s (--probe-addr): %w", a.cfg.ProbeAddr, err)
	}
	servers := a.serve(metricsLn, probeLn)
	a.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.kube.CoreV1().Events("")})

	a.log.Info("agent started", zap.String("node", a.cfg.NodeName), zap.String("imds_endpoint", a.cfg.IMDSEndpoint),
		zap.Duration("poll_interval", a.cfg.PollInterval), zap.Duration("drain_margin", a.cfg.Policy.Margin),
		zap.String("pdb_fallback", string(a.cfg.Policy.PDBFallback)), zap.String("taint_effect", string(a.cfg.Policy.TaintEffect)),
		zap.String("rebalance", string(a.cfg.Rebalance)), zap.String("scheduled_maintenance", string(a.cfg.ScheduledMaintenance)),
		zap.String("asg_lifecycle", string(a.cfg.ASGLifecycle)), zap.Bool("cordon_only", a.cfg.CordonOnly),
		zap.Bool("dry_run", a.cfg.DryRun), zap.Bool("allow_rehearsal", a.cfg.AllowRehearsal),
		zap.Bool("webhook", a.cfg.WebhookURL != ""), zap.String("metrics_addr", metricsLn.Addr().String()),
		zap.String("probe_addr", probeLn.Addr().String()), zap.String("version", version.Version))

	notices := make(chan imds.Notice, 16)
	var bg sync.WaitGroup
	bg.Go(func() { _ = a.watcher.Run(ctx, notices) })
	bg.Go(func() { a.learnIdentity(ctx) })
	bg.Go(func() { a.resume(ctx) })
	if a.cfg.AllowRehearsal {
		bg.Go(func() { a.watchRehearsal(ctx, notices) })
	}
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case n := <-notices:
			func() {
				defer a.survive("notice handling", a.log)
				a.handle(ctx, n)
			}()
		}
	}
	a.mu.Lock()
	draining := a.current != nil
	a.mu.Unlock()
	if draining {
		a.log.Info("termination signal received while draining: finishing the drain first", zap.String("node", a.cfg.NodeName))
	}
	a.drains.Wait()
	bg.Wait()
	a.hook.wait()
	a.events.Shutdown()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdownCtx)
	}
	a.log.Info("agent stopped", zap.String("node", a.cfg.NodeName))
	return nil
}

// learnIdentity reads the instance's identity (retrying until ctx ends) and
// publishes it as spot_handler_node_info.
func (a *Agent) learnIdentity(ctx context.Context) {
	id, err := a.imds.WaitIdentity(ctx)
	if err != nil {
		return
	}
	a.identity.Store(&id)
	a.m.NodeInfo.WithLabelValues(a.cfg.NodeName, id.InstanceType, id.AvailabilityZone, id.LifeCycle).Set(1)
	a.log.Info("instance identity", zap.String("node", a.cfg.NodeName), zap.String("instance_id", id.InstanceID),
		zap.String("instance_type", id.InstanceType), zap.String("zone", id.AvailabilityZone), zap.String("lifecycle", id.LifeCycle))
	if id.LifeCycle != "" && id.LifeCycle != "spot" {
		a.log.Warn("this instance is not a Spot instance: only maintenance and ASG notices will come", zap.String("lifecycle", id.LifeCycle))
	}
}
