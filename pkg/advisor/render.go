package advisor

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Output formats.
const (
	FormatTable     = "table"
	FormatJSON      = "json"
	FormatKops      = "kops"
	FormatEksctl    = "eksctl"
	FormatKarpenter = "karpenter"
)

// Formats lists the output formats in the order --help shows them.
var Formats = []string{FormatTable, FormatJSON, FormatKops, FormatEksctl, FormatKarpenter}

// SpotNodeLabel is the node label every generated node group sets; the
// spot-handler chart's default nodeSelector selects it.
var SpotNodeLabel = map[string]string{"spot": "true"}

// Target describes the node group the config outputs create.
type Target struct {
	// Name names the InstanceGroup, node group or NodePool.
	Name string
	// Cluster is the kops cluster (the kops.k8s.io/cluster label) or the
	// eksctl cluster (metadata.name).
	Cluster string
	// NodeClass is the Karpenter EC2NodeClass the NodePool refers to.
	NodeClass string
	// MinSize and MaxSize bound the kops and eksctl groups.
	MinSize, MaxSize int
	// Zones, when given, are written as the group's subnets (kops) or
	// availabilityZones (eksctl), and as a zone requirement (Karpenter).
	Zones []string
	// PinTypes adds the ranked set to the Karpenter NodePool as a
	// node.kubernetes.io/instance-type requirement.
	PinTypes bool
	// EksctlNodeGroup is EksctlManaged (the default, "") or
	// EksctlSelfManaged.
	EksctlNodeGroup string
	// NoCapacityRebalance leaves capacityRebalance off in the kops and
	// self-managed eksctl groups (and the note on draining it).
	NoCapacityRebalance bool
}

// eksctl node group kinds, for Target.EksctlNodeGroup.
const (
	EksctlManaged     = "managed"
	EksctlSelfManaged = "self"
)

// Render writes r in format (one of Formats).
func Render(w io.Writer, r *Result, format string, t Target) error {
	switch format {
	case FormatTable:
		return RenderTable(w, r)
	case FormatJSON:
		return RenderJSON(w, r)
	case FormatKops:
		return RenderKops(w, r, t)
	case FormatEksctl:
		return RenderEksctl(w, r, t)
	case FormatKarpenter:
		return RenderKarpenter(w, r, t)
	}
	return fmt.Errorf("unknown output format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// writeYAML writes the header comment, the notes (one comment line each)
// and doc as YAML with two-space indents.
func writeYAML(w io.Writer, r *Result, doc any, notes ...string) error {
	var buf bytes.Buffer
	r.header(&buf)
	for _, n := range notes {
		fmt.Fprintf(&buf, "# %s\n", yamlComment(n))
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encoding YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encoding YAML: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing YAML: %w", err)
	}
	return nil
}

func copyLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
