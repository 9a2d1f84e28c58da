// Package imds watches the EC2 instance metadata service (IMDS) for the
// signals that an instance is about to go away, and reads the instance's
// identity.
//
// It knows HTTP and instance metadata and nothing of Kubernetes. A [Client]
// wraps the AWS SDK's IMDS client (github.com/aws/aws-sdk-go-v2/feature/ec2/imds),
// configured for IMDSv2 only, a short per-request timeout, bounded response
// bodies and a single retry that covers an expired token. A [Watcher] polls
// four metadata paths and turns their answers into typed [Notice] values:
//
//	meta-data/spot/instance-action                SpotInterruption
//	meta-data/events/recommendations/rebalance    RebalanceRecommendation
//	meta-data/events/maintenance/scheduled        ScheduledMaintenance (one per event)
//	meta-data/autoscaling/target-lifecycle-state  ASGTermination (on "Terminated")
//
// A notice is delivered once per ID; the ID is derived from the notice's
// content, so a notice whose time changes is delivered again under a new ID.
// When a spot or maintenance notice that was delivered is no longer present,
// the watcher delivers it again with Canceled set; a changed notice arrives as
// its new ID first, then the withdrawal of the old one. Rebalance and ASG
// notices are never withdrawn: IMDS does not take them back.
//
// Faults never stop the watch: every request ends in one of the outcomes
// listed by [Outcomes], which an [Observer] can count. The four paths are
// read at once, each request with its own timeout, on a fixed rhythm, so a
// hanging path never holds up the others. Only throttling (429) slows
// polling down, doubling the wait up to a small cap (two poll intervals by
// default) or to the server's Retry-After within it; after 5xx, 401, 403,
// timeouts and failed connections the next cycle comes on time, so a notice
// served when a fault ends is seen within one poll.
//
// Parsing is done by pure functions over the response body, one file per
// kind, tested by tables and fuzzing separately from HTTP.
package imds
