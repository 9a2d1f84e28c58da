package advisor

// rebalanceHookCommand creates the termination lifecycle hook that gives a
// group's Capacity Rebalancing terminations a drain. The flags are those of
// the AWS CLI's `aws autoscaling put-lifecycle-hook` (AWS CLI Command
// Reference); 300 s is the hook's heartbeat timeout, which the controller
// renews while it drains.
const rebalanceHookCommand = "aws autoscaling put-lifecycle-hook --auto-scaling-group-name ASG --lifecycle-hook-name spot-handler-drain" +
	" --lifecycle-transition autoscaling:EC2_INSTANCE_TERMINATING --heartbeat-timeout 300 --default-result CONTINUE"

// rebalanceDrainNote says how the terminations that Capacity Rebalancing
// makes in a kops or self-managed eksctl group get drained. Facts, from the
// Amazon EC2 Auto Scaling User Guide ("Capacity Rebalancing", "Lifecycle
// hooks"): the group launches a replacement for an instance EC2 flags at
// elevated risk and then terminates the old one like a scale-in, without a
// Spot interruption notice; a termination lifecycle hook holds it in
// Terminating:Wait until the action is completed or the hook times out.
// Neither kops's InstanceGroup nor eksctl's node group has a field for such
// a hook (their schemas in the shared data and eksctl's module), so the note
// gives the command. What spot-handler does under the hook is its own README's
// "Agent, controller or both" table.
func rebalanceDrainNote() []string {
	return []string{
		"capacityRebalance: the group replaces a Spot instance EC2 flags at elevated risk and then terminates the old one like a scale-in,",
		"with no Spot notice. That termination is drained only while a termination lifecycle hook holds the instance; add one to the group's ASG:",
		"  " + rebalanceHookCommand,
		"Under the hook, spot-handler controller (queue mode, with the EventBridge rule for EC2 Instance-terminate Lifecycle Action) drains the node",
		"and completes the action once it is empty; the agent alone drains when instance metadata shows the target lifecycle state Terminated,",
		"and the instance goes when the hook times out. The agent's --rebalance=taint (the default) only keeps new pods off at the recommendation.",
		"Without the hook, pass --capacity-rebalance=false.",
	}
}

// managedRebalanceNote says who handles a managed node group's rebalance
// recommendations. Fact, from the Amazon EKS User Guide (managed node groups,
// Spot capacity type): EKS turns Capacity Rebalancing on for a Spot managed
// node group, launches a replacement on a rebalance recommendation and, once
// the replacement is Ready, cordons and drains the old node itself.
func managedRebalanceNote() []string {
	return []string{
		"EKS managed node group: EKS drains a node on a rebalance recommendation itself, once its replacement is Ready;",
		"the spot-handler agent drains on the Spot interruption notice. Keep the agent's --rebalance at taint (the default) or ignore, not drain,",
		"so the two do not both act on the recommendation. For a self-managed group pass --eksctl-nodegroup self.",
	}
}
