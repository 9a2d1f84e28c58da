package queue

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// healthDetail is the detail of an "AWS Health Event". Shape from the AWS
// Health User Guide, "Reference: AWS Health events Amazon EventBridge
// schema": eventArn, service, eventTypeCode, eventTypeCategory
// (issue, accountNotification, scheduledChange), startTime and endTime
// (RFC 1123, e.g. "Sat, 05 Jun 2021 15:10:09 GMT"), eventDescription and
// affectedEntities[].entityValue (for EC2, the instance IDs).
type healthDetail struct {
	EventArn          string `json:"eventArn"`
	Service           string `json:"service"`
	EventTypeCode     string `json:"eventTypeCode"`
	EventTypeCategory string `json:"eventTypeCategory"`
	StartTime         string `json:"startTime"`
	// StatusCode is open, upcoming or closed; EventStatusCode is the same
	// under the name the Health API's event types use (either is read).
	StatusCode       string `json:"statusCode"`
	EventStatusCode  string `json:"eventStatusCode"`
	EventDescription []struct {
		Language          string `json:"language"`
		LatestDescription string `json:"latestDescription"`
	} `json:"eventDescription"`
	AffectedEntities []struct {
		EntityValue string `json:"entityValue"`
	} `json:"affectedEntities"`
}

// maxEntities bounds the instances one Health event may name.
const maxEntities = 1000

// parseHealth: AWS Health Event. Only EC2 scheduled changes yield notices,
// one per affected instance, with the change's start time as deadline;
// other services and categories yield none. Entities that are not instance
// IDs (volumes, hosts) are skipped. An event whose statusCode is "closed"
// (canceled, or over) yields the same notices marked Ends: it withdraws
// them (same IDs: the ID is made of the instance and the event ARN).
func parseHealth(e *envelope, _ time.Time) ([]Notice, error) {
	var d healthDetail
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return nil, fmt.Errorf("detail is not a Health event detail (eventArn, service, eventTypeCode, startTime, affectedEntities): %v", err)
	}
	if d.Service != "EC2" || d.EventTypeCategory != "scheduledChange" {
		return nil, nil
	}
	if d.EventArn == "" || !token(d.EventTypeCode) {
		return nil, fmt.Errorf("EC2 scheduled change without eventArn or with eventTypeCode %q", clip(d.EventTypeCode))
	}
	start, err := parseHealthTime(d.StartTime)
	if err != nil {
		return nil, err
	}
	if len(d.AffectedEntities) > maxEntities {
		return nil, fmt.Errorf("%d affected entities: more than %d", len(d.AffectedEntities), maxEntities)
	}
	desc := ""
	for _, ed := range d.EventDescription {
		if desc == "" || ed.Language == "en_US" {
			desc = clipDescription(ed.LatestDescription)
		}
	}
	status := d.StatusCode
	if status == "" {
		status = d.EventStatusCode
	}
	ends := status == "closed"
	var out []Notice
	seen := map[string]bool{}
	for _, a := range d.AffectedEntities {
		if checkInstance("entityValue", a.EntityValue) != nil || seen[a.EntityValue] {
			continue
		}
		seen[a.EntityValue] = true
		out = append(out, Notice{InstanceID: a.EntityValue, Kind: ScheduledMaintenance, Action: d.EventTypeCode,
			ID: noticeID(ScheduledMaintenance, a.EntityValue, d.EventArn), Deadline: start, Description: desc, Ends: ends})
	}
	return out, nil
}

// parseHealthTime reads a Health event time: RFC 1123 with a zone name as
// the schema shows, or RFC 3339.
func parseHealthTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("detail.startTime %q is not a time like \"Sat, 05 Jun 2021 15:10:09 GMT\"", clip(s))
}

// clipDescription keeps a description to 1000 bytes of valid text.
func clipDescription(s string) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) > 1000 {
		s = strings.ToValidUTF8(s[:1000], "") + "…"
	}
	return s
}
