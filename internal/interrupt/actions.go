package interrupt

import "time"

// Action is something the machine asks its owner to do, in order. The
// concrete types are the ones in this file.
type Action interface{ action() }

// Drain describes one drain of the node.
type Drain struct {
	// Seq numbers the drains of one machine from 1; [DrainEnded] and
	// [Panicked] name the drain by it.
	Seq int
	// Notice is the notice the drain is for; its kind is the taint's value.
	Notice Notice
	// Deadline is the deadline the machine chose: the notice's own, the one
	// a previous process recorded, or detection + DefaultDeadline.
	Deadline time.Time
	// Late is true when the deadline was already inside the margin.
	Late bool
	// Resumed is true when a previous process started this drain.
	Resumed bool
}

// StartDrain starts a drain. It outlives the process's termination signal
// and is bounded by its deadline.
type StartDrain struct{ Drain Drain }

// RestartDrain stops drain Stop and, once it has stopped, starts Drain (an
// earlier deadline, a real notice replacing a rehearsal, a panic).
type RestartDrain struct {
	Stop   int
	Drain  Drain
	Reason string
}

// StopDrain stops drain Seq; it reports [DrainEnded] with Stopped. Node
// writes that follow wait for it to have stopped.
type StopDrain struct {
	Seq    int
	Reason string
}

// TaintNode adds the PreferNoSchedule taint for Notice and records it on
// the node; it neither cordons nor evicts. Message is the Event to record
// once done. It is retried until done or superseded.
type TaintNode struct {
	Notice   Notice
	Deadline time.Time
	Message  string
}

// UncordonNode removes what the drain or taint added, and the notice
// record. Message is the Event to record once done. It is retried until
// done or superseded.
type UncordonNode struct {
	// Notice is what was undone (a withdrawn or recorded notice).
	Notice  Notice
	Message string
}

// Keep changes nothing on the node; Reason says why, for the log.
type Keep struct {
	Notice Notice
	Reason string
}

// ReasonUpdated is the Keep reason of a new version of a notice in force
// that changes nothing (a later time): routine, worth a debug line only.
const ReasonUpdated = "notice updated; already handled"

// Announce says a new interruption arrived (not an update, not a resumed
// one): count it and log it.
type Announce struct {
	Notice   Notice
	Deadline time.Time
	Response Response
}

// RecordEvent records a Kubernetes Event on the node.
type RecordEvent struct {
	// Warning selects type Warning; else Normal.
	Warning bool
	Reason  string
	Message string
}

// Webhook events.
const (
	// HookNotice is sent for each new notice.
	HookNotice = "notice"
	// HookCanceled is sent when a withdrawn notice is undone.
	HookCanceled = "canceled"
)

// SendWebhook posts a notification; Event is HookNotice or HookCanceled
// (drain results are posted by the drain's reporter).
type SendWebhook struct {
	Event    string
	Notice   Notice
	Deadline time.Time
	Response Response
}

func (StartDrain) action()   {}
func (RestartDrain) action() {}
func (StopDrain) action()    {}
func (TaintNode) action()    {}
func (UncordonNode) action() {}
func (Keep) action()         {}
func (Announce) action()     {}
func (RecordEvent) action()  {}
func (SendWebhook) action()  {}
