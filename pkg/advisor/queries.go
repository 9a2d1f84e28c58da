package advisor

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// The PromQL the advisor sends, in one place. They rest on the agent's
// metrics (the contract in DESIGN.md):
//
//	spot_handler_notices_total{kind,action}                      counter, one per agent pod
//	spot_handler_node_info{node,instance_type,zone,lifecycle} 1  gauge, one per agent pod
//
// Both are scraped from the same agent pod, so they share its target labels
// (instance, and pod where the scrape config adds it); the queries join on
// JoinLabels.
//
// An interrupted node is gone by the time anyone asks, so the join takes the
// node_info series seen at any time in the look-back (last_over_time), not
// only those alive now. increase() counts a notice only when the counter was
// exported at 0 before it rose: the agent initialises its counters.

// JoinLabels are the target labels that tie a notice counter to the node_info
// of the same agent pod. A missing label is empty on both sides, so
// "instance, pod" works with and without a pod label.
const JoinLabels = "instance, pod"

// NodeHoursStep is the resolution at which node-hours are counted: a Spot node
// seen at a step counts for one step's time.
const NodeHoursStep = 5 * time.Minute

// InterruptionsQuery returns, per instance_type and zone, the Spot
// interruption notices the agents received during lookback.
func InterruptionsQuery(lookback time.Duration) string {
	lb := model.Duration(lookback).String()
	return fmt.Sprintf(`sum by (instance_type, zone) (
  increase(spot_handler_notices_total{kind="SpotInterruption"}[%s])
  * on (%s) group_left (instance_type, zone)
  max by (%s, instance_type, zone) (last_over_time(spot_handler_node_info[%s]))
)`, lb, JoinLabels, JoinLabels, lb)
}

// NodeHoursQuery returns, per instance_type and zone, the hours Spot nodes
// ran during lookback: the number of NodeHoursStep steps at which each node
// had a node_info series (an agent pod restarting on the node is counted
// once), times the step.
func NodeHoursQuery(lookback time.Duration) string {
	lb := model.Duration(lookback).String()
	step := model.Duration(NodeHoursStep).String()
	perHour := float64(time.Hour) / float64(NodeHoursStep)
	return fmt.Sprintf(`sum by (instance_type, zone) (
  sum_over_time((max by (node, instance_type, zone) (spot_handler_node_info{lifecycle=~"(?i)spot"}))[%s:%s])
) / %g`, lb, step, perHour)
}
