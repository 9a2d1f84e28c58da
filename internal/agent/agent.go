package agent

import (
	"context"
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

	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/internal/serve"
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
	actor   drain.Interface // the Drainer, or DryRun with --dry-run
	out     effects         // liveEffects, or dryEffects with --dry-run
	watcher *imds.Watcher
	imds    *imds.Client
	events  record.EventBroadcaster // nil with --dry-run
	hook    *webhook

	started  time.Time
	apiReady atomic.Bool
	identity atomic.Pointer[imds.Identity]

	// Owned by the loop goroutine (Run): the state machine and the work
	// that carries out its actions. Everything else reports through inbox.
	machine *interrupt.Machine
	work    *nodeWork
	inbox   chan interrupt.Event
	busy    inflight // drains and node writes in flight
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
		machine: interrupt.New(cfg.machine()), inbox: make(chan interrupt.Event, 64)}
	cfg.Policy.SelfNamespace, cfg.Policy.SelfName = cfg.PodNamespace, cfg.PodName
	var err error
	if a.hook, err = newWebhook(cfg.WebhookURL, cfg.WebhookTemplate, d.WebhookClient, d.Metrics, d.Logger); err != nil {
		return nil, err
	}
	if cfg.DryRun {
		a.actor, err = drain.NewDryRun(d.Kube, cfg.Policy, d.Clock, d.Logger)
		dry := &dryEffects{log: d.Logger}
		if cfg.DryRunWebhook {
			dry.hook = a.hook
		}
		a.out = dry
	} else {
		a.actor, err = drain.New(d.Kube, cfg.Policy, d.Clock, d.Logger)
		a.events = record.NewBroadcaster()
		rec := a.events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "spot-handler", Host: cfg.NodeName})
		a.out = &liveEffects{node: cfg.NodeName, rec: rec, hook: a.hook, m: d.Metrics, clock: d.Clock, ident: &a.identity}
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
	d.Metrics.BuildInfo.WithLabelValues(version.Version, version.GoVersion()).Set(1)
	return a, nil
}

// Run runs the agent until ctx ends. If a drain is running then, Run waits
// for it to finish (it ends by its deadline): the node may still need it.
// Run's only errors are listen failures of the metrics and probe servers.
func (a *Agent) Run(ctx context.Context) error {
	a.started = a.clock.Now()
	servers, err := serve.Start(serve.Config{MetricsAddr: a.cfg.MetricsAddr, ProbeAddr: a.cfg.ProbeAddr, Registry: a.reg,
		Healthy: a.healthy, Ready: a.ready, Logger: a.log})
	if err != nil {
		return err
	}
	if a.events != nil {
		a.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.kube.CoreV1().Events("")})
	}
	a.log.Info("agent started", zap.String("node", a.cfg.NodeName), zap.String("imds_endpoint", a.cfg.IMDSEndpoint),
		zap.Duration("poll_interval", a.cfg.PollInterval), zap.Duration("drain_margin", a.cfg.Policy.Margin),
		zap.String("pdb_fallback", string(a.cfg.Policy.PDBFallback)), zap.String("taint_effect", string(a.cfg.Policy.TaintEffect)),
		zap.String("rebalance", string(a.cfg.Rebalance)), zap.String("scheduled_maintenance", string(a.cfg.ScheduledMaintenance)),
		zap.String("asg_lifecycle", string(a.cfg.ASGLifecycle)), zap.Bool("cordon_only", a.cfg.CordonOnly),
		zap.Bool("dry_run", a.cfg.DryRun), zap.Bool("allow_rehearsal", a.cfg.AllowRehearsal),
		zap.Bool("webhook", a.cfg.WebhookURL != ""), zap.String("metrics_addr", servers.MetricsAddr().String()),
		zap.String("probe_addr", servers.ProbeAddr().String()), zap.String("version", version.Version))

	a.work = newNodeWork(ctx, a)
	notices := make(chan imds.Notice, 16)
	// Instance metadata is watched until the agent exits, not until
	// SIGTERM: a drain still running then keeps the agent (and, in a
	// DaemonSet rollout, its successor) waiting, and a Spot notice in that
	// window must still be acted on.
	watchCtx, stopWatching := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWatching()
	var bg sync.WaitGroup
	bg.Go(func() { _ = a.watcher.Run(watchCtx, notices) })
	bg.Go(func() { a.learnIdentity(ctx) })
	bg.Go(func() { a.resume(watchCtx) })
	if a.cfg.AllowRehearsal {
		bg.Go(func() { a.watchRehearsal(ctx) })
	} else {
		// Nothing will set a rehearsal: one recorded on the node is gone.
		a.inbox <- interrupt.Synced{Source: interrupt.SourceRehearsal}
	}
	a.loop(ctx, notices)
	stopWatching()
	bg.Wait()
	a.hook.Wait()
	if a.events != nil {
		a.events.Shutdown()
	}
	servers.Shutdown(ctx)
	a.log.Info("agent stopped", zap.String("node", a.cfg.NodeName))
	return nil
}

// resumeWait bounds how long IMDS notices wait at start-up for the node to
// be read (an API server that does not answer cannot be drained against
// anyway).
const resumeWait = 2 * time.Second

// loop is the one goroutine that owns the state machine: it applies the
// notices and the reports of drains, the resume check and the rehearsal
// watch, until ctx ends and then until the work in flight has ended. After
// SIGTERM (ctx ended) instance metadata is still applied: a new notice
// starts or replaces a drain as before, and that drain keeps the agent
// running; node writes (a taint, an uncordon) end with ctx, and the next
// agent, reading the node's record and instance metadata, makes them.
func (a *Agent) loop(ctx context.Context, notices <-chan imds.Notice) {
	// IMDS notices wait until the node has been read (or resumeWait has
	// passed), so a notice a previous agent recorded meets its record first
	// and is resumed, not announced again.
	var fromIMDSCh <-chan imds.Notice
	wait := a.clock.After(resumeWait)
	term := ctx.Done()
	for {
		var idle <-chan struct{}
		if term == nil {
			idle = a.busy.Idle()
		}
		select {
		case <-term:
			term = nil
			if a.work.running() {
				a.log.Info("termination signal received while draining: finishing the drain first, still watching instance metadata",
					zap.String("node", a.cfg.NodeName))
			}
		case <-idle:
			return
		case <-wait:
			fromIMDSCh = notices
		case n := <-fromIMDSCh:
			a.apply(ctx, fromIMDS(n))
		case ev := <-a.inbox:
			switch e := ev.(type) {
			case interrupt.Resumed:
				fromIMDSCh = notices
			case interrupt.Synced:
				if e.Source == interrupt.SourceIMDS {
					a.applyPending(ctx, notices) // the cycle that synced delivered these first
				}
			}
			a.apply(ctx, ev)
		}
	}
}

// applyPending applies the notices already waiting in notices.
func (a *Agent) applyPending(ctx context.Context, notices <-chan imds.Notice) {
	for {
		select {
		case n := <-notices:
			a.apply(ctx, fromIMDS(n))
		default:
			return
		}
	}
}

// report hands ev to the loop unless ctx ends first.
func (a *Agent) report(ctx context.Context, ev interrupt.Event) {
	select {
	case a.inbox <- ev:
	case <-ctx.Done():
	}
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
