package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/internal/serve"
	"github.com/spot-handler/spot-handler/internal/version"
	"github.com/spot-handler/spot-handler/internal/webhook"
	"github.com/spot-handler/spot-handler/pkg/drain"
)

// Deps are what main makes and hands the controller.
type Deps struct {
	// Kube talks to the API server for drains; its QPS and burst are the
	// storm's budget.
	Kube kubernetes.Interface
	// LeaseKube renews the leader Lease; a client of its own, so a storm's
	// requests never delay a renewal. nil = Kube.
	LeaseKube kubernetes.Interface
	// SQS receives and deletes messages; EC2 (nil = no fallback) looks up
	// instances the node index does not know.
	SQS SQSAPI
	EC2 EC2API
	// Registry is served on /metrics; Metrics and Queue are registered on it.
	Registry *prometheus.Registry
	Metrics  *metrics.Metrics
	Queue    *metrics.Queue
	// AutoScaling holds and completes ASG lifecycle actions (nil: lifecycle
	// messages are counted ignored); LifecycleMetrics are its metrics (nil:
	// not exported).
	AutoScaling      lifecycle.AutoScaling
	LifecycleMetrics *lifecycle.Metrics
	// Groups reads Auto Scaling groups' tags (whose an instance is); nil =
	// AutoScaling, if it has DescribeAutoScalingGroups.
	Groups GroupsAPI
	// Logger is the process's logger.
	Logger *zap.Logger
	// Clock is nil for the real clock.
	Clock clock.WithTicker
	// WebhookClient posts webhooks; nil = a client with a 5s timeout.
	WebhookClient *http.Client
}

// Controller is the running queue-mode process. Make it with New; Run it once.
type Controller struct {
	cfg   Config
	kube  kubernetes.Interface
	lease kubernetes.Interface
	sqs   SQSAPI
	m     *metrics.Metrics
	qm    *metrics.Queue
	reg   *prometheus.Registry
	log   *zap.Logger
	clock clock.WithTicker
	actor drain.Interface
	nodes *resolver
	inf   cache.SharedIndexInformer
	pool  *pool
	once  onceLog
	lc    *lifecycles // nil: lifecycle actions not handled
	own   *ownership  // whose an instance is (ownership.go)
	hook  *webhook.Sender

	events record.EventBroadcaster
	rec    record.EventRecorder
	synced atomic.Bool

	say      *trouble     // what is wrong, said once (say.go)
	failedRV atomic.Value // the node index's resource version at its last failure
}

// New checks cfg and builds the controller. Its errors are configuration errors.
func New(cfg Config, d Deps) (*Controller, error) {
	if cfg.RecheckDelay <= 0 {
		cfg.RecheckDelay = DefaultRecheckDelay
	}
	if cfg.Receivers <= 0 {
		cfg.Receivers = 4
	}
	if cfg.WaitTime == 0 {
		cfg.WaitTime = 20 * time.Second
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	if d.LeaseKube == nil {
		d.LeaseKube = d.Kube
	}
	cfg.Policy.SelfNamespace, cfg.Policy.SelfName = cfg.PodNamespace, cfg.PodName
	if cfg.Policy.LateWindow == 0 {
		cfg.Policy.LateWindow = LateDrain
	}
	c := &Controller{cfg: cfg, kube: d.Kube, lease: d.LeaseKube, sqs: d.SQS, m: d.Metrics, qm: d.Queue, reg: d.Registry,
		log: d.Logger, clock: d.Clock, say: newTrouble(d.Logger)}
	var err error
	if cfg.DryRun {
		c.actor, err = drain.NewDryRun(d.Kube, cfg.Policy, d.Clock, d.Logger)
	} else {
		c.actor, err = drain.New(d.Kube, cfg.Policy, d.Clock, d.Logger)
	}
	if err != nil {
		return nil, err
	}
	factory := informers.NewSharedInformerFactory(d.Kube, 0)
	c.inf = factory.Core().V1().Nodes().Informer()
	if err := c.inf.SetTransform(slimNode); err != nil { // slim.go
		return nil, fmt.Errorf("slimming the node index: %w", err)
	}
	if err := c.inf.AddIndexers(cache.Indexers{providerIDIndex: indexByInstance}); err != nil {
		return nil, fmt.Errorf("indexing nodes by providerID: %w", err)
	}
	c.nodes = &resolver{nodes: c.inf.GetIndexer(), clock: d.Clock, cache: map[string]cached{}}
	if cfg.EC2Fallback && d.EC2 != nil {
		c.nodes.ec2 = d.EC2
	}
	if d.Groups == nil {
		d.Groups, _ = d.AutoScaling.(GroupsAPI)
	}
	c.own = newOwnership(cfg.ClusterName, cfg.ASGNames, d.Groups, d.Clock)
	if c.lc, err = newLifecycles(cfg.Lifecycle, d.AutoScaling, d.LifecycleMetrics, d.Logger, d.Clock); err != nil {
		return nil, err
	}
	if c.hook, err = webhook.New(webhook.Config{URL: cfg.WebhookURL, Template: cfg.WebhookTemplate, Client: d.WebhookClient,
		Posts: d.Metrics.Webhook, Logger: d.Logger}); err != nil {
		return nil, err
	}
	c.events = record.NewBroadcaster()
	c.rec = c.events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "spot-handler-controller"})
	d.Metrics.BuildInfo.WithLabelValues(version.Version, version.GoVersion()).Set(1)
	return c, nil
}

// Run runs the controller until ctx ends: it serves metrics and probes,
// keeps the node index, and, while leader, receives messages and drains.
// Its only errors are listen failures of the metrics and probe servers.
func (c *Controller) Run(ctx context.Context) error {
	servers, err := serve.Start(serve.Config{MetricsAddr: c.cfg.MetricsAddr, ProbeAddr: c.cfg.ProbeAddr, Registry: c.reg,
		Ready: c.ready, Logger: c.log})
	if err != nil {
		return err
	}
	c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.kube.CoreV1().Events("")})
	c.log.Info("controller started", zap.String("queue_url", c.cfg.QueueURL), zap.String("cluster_name", c.cfg.ClusterName),
		zap.Strings("asg_names", c.cfg.ASGNames), zap.Int("workers", c.cfg.Workers),
		zap.Duration("drain_margin", c.cfg.Policy.Margin), zap.String("rebalance", string(c.cfg.Rebalance)),
		zap.String("scheduled_maintenance", string(c.cfg.Maintenance)), zap.Bool("delete_unknown", c.cfg.DeleteUnknown),
		zap.Bool("ec2_fallback", c.nodes.ec2 != nil), zap.Bool("out_of_service_taint", c.cfg.OutOfServiceTaint),
		zap.Bool("cordon_only", c.cfg.CordonOnly), zap.Bool("dry_run", c.cfg.DryRun), zap.Bool("webhook", c.cfg.WebhookURL != ""), zap.Bool("leader_elect", c.cfg.LeaderElect),
		zap.String("metrics_addr", servers.MetricsAddr().String()), zap.String("probe_addr", servers.ProbeAddr().String()),
		zap.String("version", version.Version))

	var bg sync.WaitGroup
	_ = c.inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) { c.nodeWatchError(err) })
	indexed := make(chan struct{})
	go func() {
		defer close(indexed)
		c.inf.Run(ctx.Done())
	}()
	bg.Go(func() { c.watchRecovery(ctx) })
	if c.waitSynced(ctx) {
		c.synced.Store(true)
		// The first list streamed every node in full before the transform
		// slimmed it: give that memory back now, so the working set is the
		// slim index's and not the list's high-water mark (a few ms, once).
		debug.FreeOSMemory()
		if c.cfg.LeaderElect {
			c.elect(ctx)
		} else {
			c.lead(ctx)
		}
	}
	bg.Wait()
	// The node index keeps nothing to save: a list retrying an API server
	// out of reach is not waited for past a second (say.go).
	select {
	case <-indexed:
	case <-time.After(time.Second):
	}
	c.hook.Wait()
	c.events.Shutdown()
	servers.Shutdown(ctx)
	c.log.Info("controller stopped")
	return nil
}

// lead is the leader's work until ctx ends: resume the drains recorded on
// nodes, receive messages, drain. When it returns, every drain it started
// has stopped (a new leader resumes them from the nodes' records). Call it
// for one leadership at a time (elect does): the pool and the lifecycle
// state are the process's, remade by each leadership.
func (c *Controller) lead(ctx context.Context) {
	started := c.clock.Now()
	c.qm.Leader.Set(1)
	var leading sync.WaitGroup
	leading.Go(func() {
		<-ctx.Done() // the leadership ends here, before its drains have stopped
		c.qm.Leader.Set(0)
	})
	defer leading.Wait()
	c.pool = newPool(func(delta int) { c.qm.DrainsInFlight.Add(float64(delta)) })
	c.pool.start(c.cfg.Workers)
	as := newActors(ctx, c)
	c.leadLifecycles(ctx, as) // lifecycle.go
	resumed := c.resume(as)
	c.log.Info("leading: receiving messages", zap.Int("drains_resumed", resumed), zap.Duration("took", c.clock.Since(started)))
	handling := make(chan struct{}, maxHandling)
	var msgs, recv sync.WaitGroup
	for range c.cfg.Receivers {
		recv.Go(func() { c.receive(ctx, as, handling, &msgs) })
	}
	recv.Wait()
	msgs.Wait()
	as.wait()
	c.waitLifecycles()
	c.pool.stop()
	c.qm.DrainsWaiting.Set(0)
	c.log.Info("no longer leading: receiving stopped, drains stopped (the next leader resumes them)")
}

// ready is the /readyz check: ready once the node index has synced
// (/healthz is always ok: the process answers).
func (c *Controller) ready() error {
	if !c.synced.Load() {
		return errors.New("node index not synced yet")
	}
	return nil
}
