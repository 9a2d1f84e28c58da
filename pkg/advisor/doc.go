// Package advisor ranks and diversifies EC2 Spot instance types for a node
// group, and renders the chosen set as a table, JSON, a kops InstanceGroup, an
// eksctl ClusterConfig or a Karpenter NodePool.
//
// Its inputs are the AWS Spot Instance Advisor feed (interruption bucket and
// savings per type, region and OS), instance specs (from EC2
// DescribeInstanceTypes or, failing that, from the feed and the family-name
// rule in FamilyTraits), optional Spot prices (DescribeSpotPriceHistory) and,
// optionally, the cluster's own interruption history read from Prometheus.
//
// The pipeline is pure once its inputs are loaded:
//
//	feed, specs ──Match(req)──▶ candidates ──Recommend(evidence)──▶ Result ──Render*──▶ text
//
// Risk comes first: the feed's bucket (or, with observed history, the
// posterior bucket) orders the tiers, so a type from a worse bucket is chosen
// only when the better tiers cannot fill the set. Within a tier, types are
// taken greedily by score, with penalties that spread the set across
// families, generations, CPU vendors and sizes. See README.md in this folder.
package advisor
