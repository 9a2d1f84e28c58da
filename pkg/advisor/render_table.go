package advisor

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// RenderTable writes the set for a person: one row per chosen type, then the
// set's diversity, the data's sources and age, and the warnings.
func RenderTable(w io.Writer, r *Result) error {
	req := r.Requirements
	fmt.Fprintf(w, "Spot instance types for %s %s, %s\n", req.Region, req.OS, req.describe())
	fmt.Fprintf(w, "%s\n\n", r.ageLine())
	measured := false
	for _, c := range r.Set {
		measured = measured || c.PriceSource == PriceFromEC2
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	cols := []string{"#", "TYPE", "VCPU", "GIB", "ARCH", "CPU", "FEED", "OBSERVED", "EST/MONTH", "SAVINGS", "EST $/H", "$/VCPU-H", "SCORE"}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for i, c := range r.Set {
		row := []string{fmt.Sprint(i + 1), c.Type, fmt.Sprint(c.VCPUs), fmtNum(c.MemoryGiB), archCell(c.Arch),
			orQuestion(c.CPUVendor), c.BucketLabel, observedCell(c.Observed), fmt.Sprintf("%.1f%%", 100*c.Posterior),
			fmt.Sprintf("%d%%", c.Savings), priceCell(c, measured), "-", "-"}
		if c.Priced() {
			row[11], row[12] = fmt.Sprintf("%.4f", c.PricePerVCPU), fmt.Sprintf("%.1f", c.Score)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	fmt.Fprintf(w, "\nSet: %s\n", r.Diversity.summary())
	fmt.Fprintf(w, "Set price: %s\n", r.SetPrice.summary())
	if r.Placement != nil {
		fmt.Fprintln(w, r.Placement.summary())
	}
	if len(r.Excluded) > 0 {
		fmt.Fprintln(w, r.excludedLine())
	}
	fmt.Fprintf(w, "Candidates: %d met the requirements; FEED is the Spot Advisor interruption bucket, EST/MONTH the expected share of nodes interrupted per month", len(r.Ranked))
	if r.Data.Observed != "" {
		fmt.Fprint(w, " after the cluster's own history (OBSERVED: notices in node-hours)")
	}
	fmt.Fprint(w, "; EST $/H is the Spot price, estimated as On-Demand list price × (1 − SAVINGS)")
	if measured {
		fmt.Fprint(w, " where marked ~ and EC2's 30-day average elsewhere")
	}
	fmt.Fprintf(w, "; $/VCPU-H is per allocatable vCPU; SCORE is the value of usable capacity after risk (100 = best, risk weight %g).\n", r.RiskWeight)
	fmt.Fprintln(w, r.Data.sources())
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
	return nil
}

// priceCell prints the Spot price per hour, "~" before an estimate when the
// set also has measured prices, or "-" without one.
func priceCell(c Candidate, measured bool) string {
	switch {
	case c.SpotPrice <= 0:
		return "-"
	case measured && c.PriceSource == PriceEstimated:
		return fmt.Sprintf("~%.4f", c.SpotPrice)
	}
	return fmt.Sprintf("%.4f", c.SpotPrice)
}

// observedCell prints "5 in 1680h (35.2%)" or "-" without history.
func observedCell(o *Observation) string {
	if o == nil {
		return "-"
	}
	rate, ok := o.MonthlyRate()
	if !ok {
		return fmt.Sprintf("%.0f in 0h", o.Interruptions)
	}
	return fmt.Sprintf("%.0f in %.0fh (%.1f%%)", o.Interruptions, o.NodeHours, 100*rate)
}

func archCell(a Arch) string {
	if a == ArchUnknown {
		return "?"
	}
	return string(a)
}

func orQuestion(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
