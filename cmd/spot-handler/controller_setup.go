package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/spot-handler/spot-handler/internal/flagenv"
	"github.com/spot-handler/spot-handler/internal/setup"
)

const controllerSetupHelp = `Print what the controller needs in AWS, for you to create: an SQS queue
(server-side encryption on, messages kept 4 days: the longest hold), an
EventBridge rule on the default bus for each kind of event the controller
handles (Spot interruption warnings, rebalance recommendations, instance state
changes, AWS Health scheduled changes, Auto Scaling lifecycle actions; the
lifecycle rules narrowed to --asg-names and --asg-prefix when given), the queue
policy that lets only those rules send to it, and the least-privilege IAM policy
of the controller's role (lifecycle actions only on groups tagged
kubernetes.io/cluster/NAME or named in --asg-names). NAME is the controller's
--cluster-name. Calls no AWS API.

  --output cloudformation  a template: aws cloudformation deploy --stack-name
                           spot-handler-NAME --template-file FILE
                           --capabilities CAPABILITY_IAM
                           [--parameter-overrides ControllerRoleName=ROLE];
                           its output QueueURL is the controller's --queue-url
  --output json            the same as a plain document for other tools; ARNs
                           hold ${Partition}, ${Region} and ${AccountId}`

// runControllerSetup prints the controller's AWS resources
// (`spot-handler controller setup`).
func runControllerSetup(_ context.Context, args []string, io stdio) error {
	fs := flag.NewFlagSet("controller setup", flag.ContinueOnError)
	var cfg setup.Config
	fs.StringVar(&cfg.Cluster, "cluster", io.getenv("SPOT_HANDLER_CLUSTER_NAME"), "the cluster's name, the controller's --cluster-name (required; default $SPOT_HANDLER_CLUSTER_NAME): names and tags the queue, scopes the IAM policy to groups tagged kubernetes.io/cluster/<name>")
	asgNames := fs.String("asg-names", "", "comma-separated Auto Scaling groups of the cluster (the controller's --asg-names): the lifecycle rules match only them (and --asg-prefix), and the policy allows their lifecycle actions whatever their tags")
	fs.StringVar(&cfg.ASGPrefix, "asg-prefix", "", "route only the lifecycle events of groups whose name starts with this (and --asg-names); empty with no --asg-names routes every group's, the controller's tag check then leaving other clusters' alone")
	output := fs.String("output", "cloudformation", "cloudformation (a YAML template) or json (a plain document)")
	fs.BoolVar(&cfg.DescribeInstances, "describe-instances", true,
		"grant ec2:DescribeInstances, for the controller's --describe-instances fallback (on by default there too); false for a controller run with --describe-instances=false")
	fs.Usage = flagenv.Usage(fs, "spot-handler controller setup --cluster NAME [--output cloudformation|json]", controllerSetupHelp, envPrefix)
	if err := parseFlags(fs, args, io); err != nil {
		return err
	}
	cfg.ASGNames = splitList(*asgNames)
	if cfg.Cluster == "" {
		return usagef("spot-handler controller setup: --cluster is required: the name of the Kubernetes cluster the controller drains")
	}
	plan, err := setup.New(cfg)
	if err != nil {
		return usageError{fmt.Errorf("spot-handler controller setup: %w", err)}
	}
	var out []byte
	switch *output {
	case "cloudformation":
		out, err = plan.CloudFormation()
	case "json":
		out, err = plan.JSON()
	default:
		return usagef("spot-handler controller setup: --output %q is not cloudformation or json", *output)
	}
	if err != nil {
		return err
	}
	_, err = io.out.Write(out)
	return err
}
