package imds

import (
	"fmt"
	"time"
)

// Layouts of maintenance event dates, e.g. "21 Jan 2019 09:00:43 GMT".
var maintenanceLayouts = []string{
	"2 Jan 2006 15:04:05 GMT",
	"2 Jan 2006 15:04:05 UTC",
}

// Maintenance event states IMDS documents; an unknown state counts as active.
const (
	stateActive    = "active"
	stateCanceled  = "canceled"
	stateCompleted = "completed"
)

// maintenanceEvent is one element of meta-data/events/maintenance/scheduled.
type maintenanceEvent struct {
	NotBefore   string `json:"NotBefore"`
	NotAfter    string `json:"NotAfter"`
	Code        string `json:"Code"`
	Description string `json:"Description"`
	EventID     string `json:"EventId"`
	State       string `json:"State"`
}

// parseMaintenance turns the scheduled events list into one
// ScheduledMaintenance notice per event, in list order. Events whose State
// is canceled or completed come back with Canceled set; an unknown state is
// treated as active, so a new state never hides an event. A repeated
// EventId and NotBefore keeps its first entry. An empty list is valid and
// yields no notices.
func parseMaintenance(body []byte) ([]Notice, error) {
	var events []maintenanceEvent
	if err := decodeJSON(body, &events); err != nil {
		return nil, fmt.Errorf("decoding scheduled maintenance events: %w", err)
	}
	notices := make([]Notice, 0, len(events))
	for i, e := range events {
		n, err := maintenanceNotice(e)
		if err != nil {
			return nil, fmt.Errorf("reading scheduled maintenance event %d: %w", i, err)
		}
		if indexID(notices, n.ID) < 0 {
			notices = append(notices, n)
		}
	}
	return notices, nil
}

// maintenanceNotice validates one event and builds its notice.
func maintenanceNotice(e maintenanceEvent) (Notice, error) {
	if !token(e.EventID) {
		return Notice{}, fmt.Errorf("EventId %q is not an event ID like instance-event-0d59937288b749b32", truncate(e.EventID))
	}
	if !token(e.Code) {
		return Notice{}, fmt.Errorf("event %s has Code %q; want a code like instance-stop or system-reboot", e.EventID, truncate(e.Code))
	}
	notBefore, err := parseMaintenanceTime(e.NotBefore)
	if err != nil {
		return Notice{}, fmt.Errorf("reading NotBefore of event %s: %w", e.EventID, err)
	}
	return Notice{
		Kind:        ScheduledMaintenance,
		ID:          noticeID(ScheduledMaintenance, e.EventID, idTime(notBefore)),
		Action:      e.Code,
		Deadline:    notBefore,
		Canceled:    e.State == stateCanceled || e.State == stateCompleted,
		Description: e.Description,
	}, nil
}

// parseMaintenanceTime parses a date like "21 Jan 2019 09:00:43 GMT".
func parseMaintenanceTime(s string) (time.Time, error) {
	for _, layout := range maintenanceLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q is not like 21 Jan 2019 09:00:43 GMT", truncate(s))
}
