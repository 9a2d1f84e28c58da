package queue

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// SpotWarning is how long before the interruption EC2 emits the Spot
// warning event: "two minutes prior to the actual interruption" (AWS EC2 User
// Guide, "Spot Instance interruption notices", EC2 Spot Instance Interruption
// Warning event).
const SpotWarning = 2 * time.Minute

// ec2Detail is the detail of the aws.ec2 events handled here. Shapes from the
// AWS EC2 User Guide: "Spot Instance interruption notices" ({"instance-id",
// "instance-action"}), "Rebalance recommendations" ({"instance-id"}) and
// "State change events for Amazon EC2 instances" ({"instance-id", "state"}).
type ec2Detail struct {
	InstanceID     string `json:"instance-id"`
	InstanceAction string `json:"instance-action"`
	State          string `json:"state"`
}

func decodeEC2(e *envelope) (ec2Detail, error) {
	var d ec2Detail
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return d, fmt.Errorf("detail is not {\"instance-id\": ...}: %v", err)
	}
	return d, checkInstance("detail.instance-id", d.InstanceID)
}

// Spot instance actions, as the warning's instance-action names them.
var spotActions = map[string]bool{"terminate": true, "stop": true, "hibernate": true}

// parseSpot: EC2 Spot Instance Interruption Warning. The deadline is the
// event's time plus SpotWarning.
func parseSpot(e *envelope, at time.Time) ([]Notice, error) {
	d, err := decodeEC2(e)
	if err != nil {
		return nil, err
	}
	if !spotActions[d.InstanceAction] {
		return nil, fmt.Errorf("detail.instance-action %q is not terminate, stop or hibernate", clip(d.InstanceAction))
	}
	return []Notice{{InstanceID: d.InstanceID, Kind: SpotInterruption, Action: d.InstanceAction,
		ID: noticeID(SpotInterruption, d.InstanceID), Deadline: at.Add(SpotWarning)}}, nil
}

// parseRebalance: EC2 Instance Rebalance Recommendation. No deadline.
func parseRebalance(e *envelope, _ time.Time) ([]Notice, error) {
	d, err := decodeEC2(e)
	if err != nil {
		return nil, err
	}
	return []Notice{{InstanceID: d.InstanceID, Kind: RebalanceRecommendation,
		ID: noticeID(RebalanceRecommendation, d.InstanceID)}}, nil
}

// Instance states (the state-change event's state values).
const (
	StateStopping     = "stopping"
	StateShuttingDown = "shutting-down"
	StateStopped      = "stopped"
	StateTerminated   = "terminated"
)

// More instance states: the instance is starting or running (again).
const (
	StatePending = "pending"
	StateRunning = "running"
)

// states maps every documented state to whether it yields a notice (false:
// a withdrawal, the instance is starting or running).
var states = map[string]bool{StatePending: false, StateRunning: false,
	StateStopping: true, StateShuttingDown: true, StateStopped: true, StateTerminated: true}

// parseStateChange: EC2 Instance State-change Notification. stopping,
// shutting-down, stopped and terminated yield a notice whose deadline is
// the event time: the instance is already going. pending and running
// yield a withdrawal (Ends): an instance started again after a stop is no
// longer going.
func parseStateChange(e *envelope, at time.Time) ([]Notice, error) {
	d, err := decodeEC2(e)
	if err != nil {
		return nil, err
	}
	act, ok := states[d.State]
	if !ok {
		return nil, fmt.Errorf("detail.state %q is not one of pending, running, stopping, stopped, shutting-down, terminated", clip(d.State))
	}
	if !act {
		return []Notice{{InstanceID: d.InstanceID, Kind: InstanceStateChange, Action: d.State,
			ID: noticeID(InstanceStateChange, d.InstanceID, d.State), Ends: true}}, nil
	}
	return []Notice{{InstanceID: d.InstanceID, Kind: InstanceStateChange, Action: d.State,
		ID: noticeID(InstanceStateChange, d.InstanceID, d.State), Deadline: at}}, nil
}

// maxIDLen bounds a readable notice ID; longer ones end in a digest.
const maxIDLen = 200

// noticeID is IDPrefix + kind + "/" + parts joined by "/". A part that is
// not a short printable token (no "/", no spaces) is replaced by
// "sha256:" and a digest, so IDs stay short, printable and unambiguous.
func noticeID(kind Kind, parts ...string) string {
	var b strings.Builder
	b.WriteString(IDPrefix)
	b.WriteString(string(kind))
	for _, p := range parts {
		b.WriteByte('/')
		if token(p) {
			b.WriteString(p)
			continue
		}
		sum := sha256.Sum256([]byte(p))
		b.WriteString("sha256:" + hex.EncodeToString(sum[:12]))
	}
	return b.String()
}

// token reports whether s is 1 to 64 bytes of printable ASCII without
// spaces or "/".
func token(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '/' {
			return false
		}
	}
	return true
}
