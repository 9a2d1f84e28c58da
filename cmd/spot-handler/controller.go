package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	clientmetrics "k8s.io/client-go/tools/metrics"

	"github.com/spot-handler/spot-handler/internal/controller"
	"github.com/spot-handler/spot-handler/internal/flagenv"
	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/metrics"
	"github.com/spot-handler/spot-handler/pkg/drain"
	"github.com/spot-handler/spot-handler/pkg/queue"
)

const controllerHelp = `Queue mode: receive EC2's events (Spot interruption warnings, rebalance
recommendations, instance state changes, AWS Health scheduled changes, ASG
lifecycle actions) from the SQS queue an EventBridge rule feeds, and cordon,
taint and drain the node of any instance of the cluster before its deadline;
a termination hook's action is held with heartbeats and completed once the
node is empty, a launch hook's once the node is Ready. Runs as a Deployment with
leader election; AWS credentials, region and endpoint come from the SDK's
standard chain (IRSA, EKS Pod Identity, AWS_ENDPOINT_URL).

'spot-handler controller setup --cluster NAME' prints the queue, rules and IAM
policy it needs as a CloudFormation template.`

// controllerFlags are the controller's flags and what they fill.
type controllerFlags struct {
	cfg                               controller.Config
	region, endpoint                  string
	kubeconfig, logFormat, logLevel   string
	pdbFallback, taintEffect, exclude string
	rebalance, maintenance            string
	qps                               float64
	burst                             int
}

func (f *controllerFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	d := drain.DefaultPolicy()
	c := &f.cfg
	host, _ := os.Hostname()
	identity := getenv("POD_NAME")
	if identity == "" {
		identity = host + "_" + rand.String(6)
	}
	fs.StringVar(&c.QueueURL, "queue-url", "", "URL of the SQS queue EventBridge delivers EC2's events to (required)")
	fs.StringVar(&f.region, "region", "", "AWS region; empty means the SDK's chain (AWS_REGION, the profile), else the queue URL's")
	fs.StringVar(&f.endpoint, "endpoint-url", "", "AWS endpoint for SQS, EC2 and Auto Scaling (tests, VPC endpoints); empty means the SDK's chain (AWS_ENDPOINT_URL)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file; empty means in-cluster (the pod's service account)")
	fs.DurationVar(&c.Policy.Margin, "drain-margin", d.Margin, "each node must be empty this long before its deadline")
	fs.StringVar(&f.pdbFallback, "pdb-fallback", string(d.PDBFallback), "when a PDB still refuses eviction at the pod's cut-off: delete (with grace) or wait")
	fs.StringVar(&f.taintEffect, "taint-effect", string(d.TaintEffect), "effect of the spot-handler.io/interruption taint: NoSchedule, PreferNoSchedule or NoExecute")
	fs.StringVar(&f.exclude, "exclude-lb-label", d.ExcludeLabel, `label set to "true" on a draining node to take it out of external load balancers; empty disables`)
	fs.StringVar(&f.rebalance, "rebalance", string(interrupt.TaintOnly), "on a rebalance recommendation: ignore, taint (PreferNoSchedule, pods stay) or drain")
	fs.StringVar(&f.maintenance, "scheduled-maintenance", string(interrupt.DrainNode), "on an AWS Health scheduled change: ignore or drain")
	fs.BoolVar(&c.CordonOnly, "cordon-only", false, "cordon and taint on a notice, evict nothing")
	fs.BoolVar(&c.DryRun, "dry-run", false, "log what would be done; change nothing on the nodes (messages are still deleted)")
	fs.IntVar(&c.Workers, "workers", 128, "drains running at once; more wait, most urgent deadline first (every node is cordoned at once regardless)")
	fs.BoolVar(&c.DeleteUnknown, "delete-unknown", true, "delete a message for an instance that is no node of this cluster (after one re-check); false leaves it for other clusters sharing the queue")
	fs.DurationVar(&c.RecheckDelay, "unknown-recheck", controller.DefaultRecheckDelay, "how long a message for an unknown instance waits before its re-check (whole seconds)")
	fs.BoolVar(&c.EC2Fallback, "describe-instances", true, "look up an instance missing from the providerID index with ec2:DescribeInstances (private DNS name = node name)")
	fs.BoolVar(&c.OutOfServiceTaint, "out-of-service-taint", false, "when an instance is terminated or stopped with pods left on its node, add node.kubernetes.io/out-of-service=nodeshutdown:NoExecute")
	fs.DurationVar(&c.WaitTime, "queue-wait", 20*time.Second, "SQS long-poll wait per receive (0s to 20s)")
	fs.BoolVar(&c.LeaderElect, "leader-elect", true, "elect a leader on a coordination.k8s.io Lease; only the leader receives messages")
	fs.StringVar(&c.LeaseNamespace, "leader-elect-namespace", getenv("POD_NAMESPACE"), "namespace of the Lease (default $POD_NAMESPACE)")
	fs.StringVar(&c.LeaseName, "leader-elect-name", "spot-handler-controller", "name of the Lease")
	fs.StringVar(&c.Identity, "leader-elect-identity", identity, "this replica's name in the Lease (default $POD_NAME)")
	fs.DurationVar(&c.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a leader's Lease lasts without renewal: the longest failover")
	fs.DurationVar(&c.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew before it steps down")
	fs.DurationVar(&c.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "how often candidates try to take the Lease")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", ":9102", "listen address of /metrics")
	fs.StringVar(&c.ProbeAddr, "probe-addr", ":8081", "listen address of /healthz and /readyz")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or console")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.Float64Var(&f.qps, "kube-api-qps", 200, "Kubernetes API queries per second for drains: 100 nodes' cordons fit in one burst, their evictions in seconds")
	fs.IntVar(&f.burst, "kube-api-burst", 400, "Kubernetes API burst")
	c.Lifecycle = lifecycle.DefaultConfig()
	c.Lifecycle.RegisterFlags(fs)
}

// config finishes the controller's Config from the flags.
func (f *controllerFlags) config(getenv func(string) string) controller.Config {
	c := f.cfg
	c.Policy = drain.DefaultPolicy()
	c.Policy.Margin = f.cfg.Policy.Margin
	c.Policy.PDBFallback = drain.PDBFallback(f.pdbFallback)
	c.Policy.TaintEffect = corev1.TaintEffect(f.taintEffect)
	c.Policy.ExcludeLabel = f.exclude
	c.Rebalance, c.Maintenance = interrupt.Response(f.rebalance), interrupt.Response(f.maintenance)
	c.PodNamespace, c.PodName = getenv("POD_NAMESPACE"), getenv("POD_NAME")
	return c
}

// regionOf returns the region in an SQS queue URL
// (https://sqs.us-east-1.amazonaws.com/123456789012/name), or "".
func regionOf(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 4 && parts[0] == "sqs" {
		return parts[1]
	}
	return ""
}

// runController parses the controller's flags, builds its clients and runs
// it until SIGTERM.
func runController(ctx context.Context, args []string, io stdio) error {
	if len(args) > 0 && args[0] == "setup" { // controller_setup.go
		return runControllerSetup(ctx, args[1:], io)
	}
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	var f controllerFlags
	f.register(fs, io.getenv)
	fs.Usage = flagenv.Usage(fs, "spot-handler controller [flags]", controllerHelp, envPrefix)
	if err := parseFlags(fs, args, io); err != nil {
		return err
	}
	cfg := f.config(io.getenv)
	if err := cfg.Validate(); err != nil {
		return usageError{fmt.Errorf("spot-handler controller: %w", err)}
	}
	log, err := newLogger(f.logFormat, f.logLevel, io)
	if err != nil {
		return usageError{fmt.Errorf("spot-handler controller: %w", err)}
	}
	defer func() { _ = log.Sync() }()
	kube, err := kubeClient(f.kubeconfig, f.qps, f.burst, 30*time.Second)
	if err != nil {
		return usageError{fmt.Errorf("spot-handler controller: %w", err)}
	}
	leaseKube, err := kubeClient(f.kubeconfig, 5, 10, cfg.RenewDeadline)
	if err != nil {
		return usageError{fmt.Errorf("spot-handler controller: %w", err)}
	}
	var opts []func(*awsconfig.LoadOptions) error
	if f.region != "" {
		opts = append(opts, awsconfig.WithRegion(f.region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return usageError{fmt.Errorf("spot-handler controller: loading the AWS configuration: %w", err)}
	}
	if awsCfg.Region == "" {
		awsCfg.Region = regionOf(cfg.QueueURL)
	}
	if awsCfg.Region == "" {
		return usagef("spot-handler controller: no AWS region: set --region or AWS_REGION")
	}
	if f.endpoint != "" {
		awsCfg.BaseEndpoint = aws.String(f.endpoint)
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	qm := metrics.NewQueue(reg, queue.Types)
	clientmetrics.Register(clientmetrics.RegisterOpts{RequestResult: requestCounter{m}})
	c, err := controller.New(cfg, controller.Deps{Kube: kube, LeaseKube: leaseKube, SQS: sqs.NewFromConfig(awsCfg),
		EC2: ec2.NewFromConfig(awsCfg), AutoScaling: autoscaling.NewFromConfig(awsCfg), LifecycleMetrics: lifecycle.NewMetrics(reg),
		Registry: reg, Metrics: m, Queue: qm, Logger: log})
	if err != nil {
		return usageError{fmt.Errorf("spot-handler controller: %w", err)}
	}
	return c.Run(ctx)
}
