package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Kind names the signal a Notice carries. SpotInterruption,
// RebalanceRecommendation and ScheduledMaintenance have the same names as the
// agent's IMDS notices, so the node's taint reads the same whichever process
// put it there.
type Kind string

// The kinds of notice.
const (
	// SpotInterruption: EC2 reclaims the Spot instance two minutes after the
	// event's time.
	SpotInterruption Kind = "SpotInterruption"
	// RebalanceRecommendation: the Spot instance is at elevated risk of
	// interruption. No deadline.
	RebalanceRecommendation Kind = "RebalanceRecommendation"
	// InstanceStateChange: the instance is stopping, shutting down, stopped or
	// terminated (Action says which).
	InstanceStateChange Kind = "InstanceStateChange"
	// ScheduledMaintenance: an AWS Health scheduled change for the instance
	// (retirement, reboot, maintenance) that starts at the notice's Deadline.
	ScheduledMaintenance Kind = "ScheduledMaintenance"
	// LifecycleAction: an Auto Scaling lifecycle hook holds the instance
	// (Lifecycle says which).
	LifecycleAction Kind = "LifecycleAction"
)

// Message types, the values of the queue metrics' type label: one per parser,
// plus TypeUnknown and TypeMalformed.
const (
	TypeSpotInterruption = "spot_interruption"
	TypeRebalance        = "rebalance_recommendation"
	TypeStateChange      = "state_change"
	TypeHealth           = "health_scheduled_change"
	TypeLifecycle        = "asg_lifecycle"
	TypeUnknown          = "unknown"
	TypeMalformed        = "malformed"
)

// Types lists every message type, so each metric series exists from start-up.
var Types = []string{TypeSpotInterruption, TypeRebalance, TypeStateChange, TypeHealth, TypeLifecycle, TypeUnknown, TypeMalformed}

// ErrMalformed is wrapped by every error Parse returns.
var ErrMalformed = errors.New("malformed message")

// MaxBody bounds the body Parse reads: SQS's own message size limit (1 MiB).
const MaxBody = 1 << 20

// Notice is one signal for one EC2 instance.
type Notice struct {
	// InstanceID is the EC2 instance, i-0123456789abcdef0.
	InstanceID string
	// Kind is the signal's type.
	Kind Kind
	// Action is, for Spot, the instance action (terminate, stop, hibernate);
	// for a state change, the state (stopping, shutting-down, stopped,
	// terminated); for Health, the eventTypeCode; for a lifecycle action, the
	// transition; for rebalance, "".
	Action string
	// ID is stable and derived from content, so the same signal delivered
	// twice has the same ID: "queue/" + kind + "/" + instance, then the state
	// (state change) or the event ARN's digest (Health). Printable ASCII, at
	// most 200 bytes; it always starts with IDPrefix.
	ID string
	// Deadline is when the instance goes: Spot, event time + 2 minutes; state
	// change, the event time (it is going now); Health, the change's start
	// time. Zero for rebalance and lifecycle actions. UTC.
	Deadline time.Time
	// EventTime is the EventBridge event's time, UTC.
	EventTime time.Time
	// Description is human text (the Health event's description).
	Description string
	// Lifecycle is set for LifecycleAction notices only.
	Lifecycle *Lifecycle
	// Ends is true for a notice the event withdraws (it is then in
	// Message.Withdrawals, not Notices): a Health scheduled change whose
	// status is closed (canceled or over), or an instance running again
	// (Kind InstanceStateChange, Action pending or running: any stop
	// notice of the instance is withdrawn, whatever its ID).
	Ends bool
}

// IDPrefix starts every notice ID made from a queue message, so a node's
// notice annotation says which process recorded it.
const IDPrefix = "queue/"

// Message is one parsed SQS message body.
type Message struct {
	// Type is one of the Type constants.
	Type string
	// Source and DetailType are the event's, as sent (also for TypeUnknown).
	Source, DetailType string
	// EventID is the EventBridge event's id.
	EventID string
	// Time is the event's time, UTC.
	Time time.Time
	// Notices are the instances the event is about; none for an event that
	// needs no action (an instance starting, a Health event for another
	// service, an unknown kind).
	Notices []Notice
	// Withdrawals are notices the event ends (each with Ends set): a
	// closed Health event's instances, an instance pending or running
	// again. A node that holds none of them needs nothing.
	Withdrawals []Notice
}

// envelope is the EventBridge event structure every message shares.
type envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// parser turns one kind of event into notices.
type parser struct {
	typ   string
	parse func(e *envelope, at time.Time) ([]Notice, error)
}

// key names a kind of event.
type key struct{ source, detailType string }

// parsers is the table of known kinds of event.
var parsers = map[key]parser{
	{"aws.ec2", "EC2 Spot Instance Interruption Warning"}:          {TypeSpotInterruption, parseSpot},
	{"aws.ec2", "EC2 Instance Rebalance Recommendation"}:           {TypeRebalance, parseRebalance},
	{"aws.ec2", "EC2 Instance State-change Notification"}:          {TypeStateChange, parseStateChange},
	{"aws.health", "AWS Health Event"}:                             {TypeHealth, parseHealth},
	{"aws.autoscaling", "EC2 Instance-terminate Lifecycle Action"}: {TypeLifecycle, parseLifecycle},
	{"aws.autoscaling", "EC2 Instance-launch Lifecycle Action"}:    {TypeLifecycle, parseLifecycle},
}

// Parse reads one SQS message body holding an EventBridge event. It never
// panics; its errors wrap ErrMalformed and say what is wrong.
func Parse(body []byte) (Message, error) {
	if len(body) > MaxBody {
		return Message{Type: TypeMalformed}, fmt.Errorf("%w: body of %d bytes is over the %d-byte limit", ErrMalformed, len(body), MaxBody)
	}
	var e envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&e); err != nil {
		return Message{Type: TypeMalformed}, fmt.Errorf("%w: not an EventBridge event (JSON object with source, detail-type, time and detail): %v", ErrMalformed, err)
	}
	if dec.More() {
		return Message{Type: TypeMalformed}, fmt.Errorf("%w: data after the event's JSON object", ErrMalformed)
	}
	if m, ok, err := parseDirect(body, &e); ok { // asgdirect.go: an ASG → SQS notification, no envelope
		return m, err
	}
	if e.Source == "" || e.DetailType == "" {
		return Message{Type: TypeMalformed}, fmt.Errorf("%w: no source or detail-type: not an EventBridge event (is the queue fed by an EventBridge rule?)", ErrMalformed)
	}
	m := Message{Type: TypeUnknown, Source: clip(e.Source), DetailType: clip(e.DetailType), EventID: clip(e.ID)}
	p, known := parsers[key{e.Source, e.DetailType}]
	if !known {
		return m, nil
	}
	m.Type = p.typ
	at, err := time.Parse(time.RFC3339, e.Time)
	if err != nil {
		return Message{Type: p.typ, Source: m.Source, DetailType: m.DetailType}, fmt.Errorf("%w: %s event time %q is not RFC 3339", ErrMalformed, e.DetailType, clip(e.Time))
	}
	m.Time = at.UTC()
	if len(e.Detail) == 0 || bytes.Equal(bytes.TrimSpace(e.Detail), []byte("null")) {
		return Message{Type: p.typ, Source: m.Source, DetailType: m.DetailType}, fmt.Errorf("%w: %s event has no detail", ErrMalformed, e.DetailType)
	}
	notices, err := p.parse(&e, m.Time)
	if err != nil {
		return Message{Type: p.typ, Source: m.Source, DetailType: m.DetailType}, fmt.Errorf("%w: %s event: %v", ErrMalformed, e.DetailType, err)
	}
	for i := range notices {
		notices[i].EventTime = m.Time
		if notices[i].Ends {
			m.Withdrawals = append(m.Withdrawals, notices[i])
		} else {
			m.Notices = append(m.Notices, notices[i])
		}
	}
	return m, nil
}

// instanceIDPattern is an EC2 instance ID: i- and 8 or 17 hex digits.
var instanceIDPattern = regexp.MustCompile(`^i-[0-9a-f]{8}([0-9a-f]{9})?$`)

// checkInstance says what is wrong with an instance ID field, or nil.
func checkInstance(field, id string) error {
	if !instanceIDPattern.MatchString(id) {
		return fmt.Errorf("%s %q is not an EC2 instance ID (i- and 8 or 17 hex digits)", field, clip(id))
	}
	return nil
}

// clip shortens s for an error message or a log field.
func clip(s string) string {
	const n = 100
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
