package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/spot-handler/spot-handler/internal/controller"
	"github.com/spot-handler/spot-handler/internal/interrupt"
	"github.com/spot-handler/spot-handler/internal/lifecycle"
	"github.com/spot-handler/spot-handler/internal/metrics"
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
	modeFlags
	cfg              controller.Config
	region, endpoint string
	maintenance      string
	asgNames         string
}

func (f *controllerFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	c := &f.cfg
	host, _ := os.Hostname()
	identity := getenv("POD_NAME")
	if identity == "" {
		identity = host + "_" + rand.String(6)
	}
	f.modeFlags.register(fs, "each node must be empty this long before its deadline")
	fs.StringVar(&c.QueueURL, "queue-url", "", "URL of the SQS queue EventBridge delivers EC2's events to (required)")
	fs.StringVar(&c.ClusterName, "cluster-name", "", "this cluster's name (required): an instance that is no node here is this cluster's only if its Auto Scaling group carries the tag kubernetes.io/cluster/<name> or is in --asg-names; no other instance's lifecycle action is ever completed, heartbeated or abandoned")
	fs.StringVar(&f.asgNames, "asg-names", "", "comma-separated Auto Scaling groups that are this cluster's whatever their tags")
	fs.StringVar(&f.region, "region", "", "AWS region; empty means the SDK's chain (AWS_REGION, the profile), else the queue URL's")
	fs.StringVar(&f.endpoint, "endpoint-url", "", "AWS endpoint for SQS, EC2 and Auto Scaling (tests, VPC endpoints); empty means the SDK's chain (AWS_ENDPOINT_URL)")
	fs.StringVar(&f.maintenance, "scheduled-maintenance", string(interrupt.DrainNode), "on an AWS Health scheduled change: ignore or drain")
	fs.DurationVar(&c.MaintenanceLead, "maintenance-lead", controller.DefaultMaintenanceLead, "cordon and drain a node this long before its AWS Health scheduled change starts (0: when the event arrives); more than the drain margin")
	fs.DurationVar(&c.RebalanceTaintTTL, "rebalance-taint-ttl", controller.DefaultRebalanceTaintTTL, "remove a rebalance recommendation's taint this long after it arrived (0: keep it for the life of the instance)")
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
	fs.Float64Var(&f.qps, "kube-api-qps", 500, "Kubernetes API queries per second for drains: 500 nodes' cordons fit in one burst, their evictions (about 30 requests a node of 10 pods) in about 30 s")
	fs.IntVar(&f.burst, "kube-api-burst", 1000, "Kubernetes API burst")
	c.Lifecycle = lifecycle.DefaultConfig()
	c.Lifecycle.RegisterFlags(fs)
}

// config finishes the controller's Config from the flags, reading files.
func (f *controllerFlags) config(getenv func(string) string) (controller.Config, error) {
	c := f.cfg
	c.Policy = f.policy()
	c.CordonOnly, c.MetricsAddr, c.ProbeAddr = f.cordonOnly, f.metricsAddr, f.probeAddr
	c.Rebalance, c.Maintenance = interrupt.Response(f.rebalance), interrupt.Response(f.maintenance)
	c.PodNamespace, c.PodName = getenv("POD_NAMESPACE"), getenv("POD_NAME")
	c.DryRunWebhook = f.dryRunWebhook
	c.ASGNames = splitList(f.asgNames)
	var err error
	c.WebhookURL, c.WebhookTemplate, err = f.webhook()
	return c, err
}

// checked is the controller's Config once every flag has passed its
// check (the queue, the region, the endpoint and the shared ones), with
// the webhook's client; nothing has been built or contacted yet.
func (f *controllerFlags) checked(getenv func(string) string) (controller.Config, *http.Client, error) {
	c, err := f.config(getenv)
	var hooks *http.Client
	f.marginWarns = true // lifecycle-hook and Health drains have their own time
	if err == nil {
		hooks, err = f.finish(c.DryRun, c.WebhookURL, c.WebhookTemplate,
			func() error {
				if c.QueueURL == "" {
					return nil // Validate says what to set
				}
				return checkQueueURL(c.QueueURL)
			},
			func() error { return checkRegion(f.region) },
			func() error {
				if q := regionOf(c.QueueURL); f.region != "" && q != "" && q != f.region {
					return fmt.Errorf("--region=%s but --queue-url is a queue in %s: drop --region or give the queue of %s", f.region, q, f.region)
				}
				return nil
			},
			func() error {
				return checkOptionalURL("--endpoint-url", f.endpoint, "an http(s) URL like https://sqs.us-east-1.amazonaws.com or http://127.0.0.1:4566 (or empty for the SDK's)")
			},
			func() error {
				if c.RecheckDelay < 0 || c.RecheckDelay > maxRecheck {
					return fmt.Errorf("--unknown-recheck=%v: use 0s to %v (SQS's longest visibility timeout)", c.RecheckDelay, maxRecheck)
				}
				return nil
			},
			c.Validate, c.Lifecycle.Validate)
	}
	if f.webhookOff {
		c.WebhookURL = "" // a warning says why
	}
	return c, hooks, err
}

// regionOf returns the region in an SQS queue URL
// (https://sqs.us-east-1.amazonaws.com/123456789012/name), or "".
func regionOf(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	parts := strings.Split(host, ".")
	if len(parts) >= 4 && parts[0] == "sqs" && awsDomain(host) {
		return parts[1]
	}
	return ""
}

// awsDomain reports whether host is in one of AWS's public domains (a
// simulator's or a cluster-local host names no region).
func awsDomain(host string) bool {
	for _, d := range []string{".amazonaws.com", ".amazonaws.com.cn", ".amazonaws.eu", ".api.aws"} {
		if strings.HasSuffix(host, d) {
			return true
		}
	}
	return false
}

// runController parses the controller's flags, builds its clients and runs
// it until SIGTERM.
func runController(ctx context.Context, args []string, io stdio) error {
	if len(args) > 0 && args[0] == "setup" { // controller_setup.go
		return runControllerSetup(ctx, args[1:], io)
	}
	var f controllerFlags
	if err := parseModeFlags("controller", controllerHelp, func(fs *flag.FlagSet) { f.register(fs, io.getenv) }, args, io); err != nil {
		return err
	}
	cfg, hooks, err := f.checked(io.getenv)
	if err != nil {
		return usageError{fmt.Errorf("spot-handler controller: %w", err)}
	}
	p, err := f.start("spot-handler controller", 30*time.Second, io)
	if err != nil {
		return err
	}
	defer func() { _ = p.log.Sync() }()
	f.sayWarnings(p.log)
	leaseKube, err := kubeClient(kubeSource{f.kubeconfig, f.kubeContext}, 5, 10, cfg.RenewDeadline, io.getenv)
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
	c, err := controller.New(cfg, controller.Deps{Kube: p.kube, LeaseKube: leaseKube, SQS: sqs.NewFromConfig(awsCfg),
		EC2: ec2.NewFromConfig(awsCfg), AutoScaling: autoscaling.NewFromConfig(awsCfg), LifecycleMetrics: lifecycle.NewMetrics(p.reg),
		Registry: p.reg, Metrics: p.metrics, Queue: metrics.NewQueue(p.reg, queue.Types), Logger: p.log, WebhookClient: hooks})
	if err != nil {
		return usageError{fmt.Errorf("spot-handler controller: %w", err)}
	}
	return c.Run(ctx)
}
