package advisor

import (
	"encoding/json"
	"fmt"
	"io"
)

// jsonRequirements is Requirements as the JSON output spells it.
type jsonRequirements struct {
	Region          string   `json:"region"`
	OS              string   `json:"os"`
	VCPUs           string   `json:"vcpus"`
	MemoryGiB       string   `json:"memoryGiB"`
	Arch            string   `json:"arch"`
	GPUs            string   `json:"gpus"`
	Families        string   `json:"families,omitempty"`
	Categories      []string `json:"categories,omitempty"`
	Burstable       bool     `json:"burstable,omitempty"`
	Metal           bool     `json:"metal,omitempty"`
	Exclude         string   `json:"exclude,omitempty"`
	MinGeneration   int      `json:"minGeneration,omitempty"`
	MaxInterruption string   `json:"maxInterruption,omitempty"`
	Count           int      `json:"count"`
}

// jsonResult is the document RenderJSON writes.
type jsonResult struct {
	Requirements jsonRequirements `json:"requirements"`
	Data         jsonData         `json:"data"`
	Set          []Candidate      `json:"set"`
	Diversity    Diversity        `json:"diversity"`
	SetPrice     SetPrice         `json:"setPrice"`
	Placement    *Placement       `json:"placement,omitempty"`
	Excluded     []Exclusion      `json:"excluded"`
	RiskWeight   float64          `json:"riskWeight"`
	Candidates   int              `json:"candidates"`
	Warnings     []string         `json:"warnings"`
	GeneratedAt  string           `json:"generatedAt"`
}

type jsonData struct {
	DataInfo
	AgeSeconds int64  `json:"ageSeconds"`
	Age        string `json:"age"`
}

// RenderJSON writes the result as one indented JSON document: the
// requirements, the data's sources and age, the set with every number the
// table shows, the diversity and the warnings.
func RenderJSON(w io.Writer, r *Result) error {
	req := r.Requirements
	jr := jsonRequirements{Region: req.Region, OS: req.OS, VCPUs: req.VCPUs.String(), MemoryGiB: req.MemoryGiB.String(),
		Arch: string(req.Arch), GPUs: req.GPUs.String(), Categories: req.Categories, Burstable: req.Burstable, Metal: req.Metal, MinGeneration: req.MinGeneration, MaxInterruption: r.MaxInterruption, Count: req.Count}
	if req.Arch == ArchUnknown {
		jr.Arch = "any"
	}
	if !req.GPUs.Set {
		jr.GPUs = "none (no accelerators unless --families or --category name them)"
	}
	if req.Families != nil {
		jr.Families = req.Families.String()
	}
	if req.Exclude != nil {
		jr.Exclude = req.Exclude.String()
	}
	doc := jsonResult{Requirements: jr, Data: jsonData{DataInfo: r.Data, AgeSeconds: int64(r.Data.Age.Seconds()), Age: humanAge(r.Data.Age)},
		Set: r.Set, Diversity: r.Diversity, SetPrice: r.SetPrice, Placement: r.Placement, Excluded: r.Excluded, RiskWeight: r.RiskWeight, Candidates: len(r.Ranked), Warnings: r.Warnings, GeneratedAt: r.GeneratedAt.UTC().Format("2006-01-02T15:04:05Z")}
	if doc.Excluded == nil {
		doc.Excluded = []Exclusion{}
	}
	if doc.Warnings == nil {
		doc.Warnings = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}
