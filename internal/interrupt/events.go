package interrupt

// Event is something that happened to the machine's node or its notices.
// The concrete types are the ones in this file.
type Event interface{ event() }

// Received is a notice from a source: a new one, or a new version (new ID,
// same kind) of one in force, which is an update.
type Received struct{ Notice Notice }

// Withdrawn says a source no longer shows the notice (a maintenance event
// canceled or completed). A Spot interruption from a real source is final
// for the life of the instance: its withdrawal (a 404 for one poll, or the
// old version of a notice whose time moved) changes nothing; only a restart
// that finds no notice (after a stop or hibernate) undoes it.
type Withdrawn struct{ Notice Notice }

// RehearsalSet says the rehearsal annotation is set; a changed time is an
// update of the one rehearsal. Notice.Source must be SourceRehearsal.
type RehearsalSet struct{ Notice Notice }

// RehearsalCleared says the rehearsal annotation is absent (removed while
// the process ran, or found absent by the first read after a restart). It
// also counts as [Synced] for SourceRehearsal.
type RehearsalCleared struct{}

// Outcome is how a drain ended.
type Outcome string

// The outcomes.
const (
	// Emptied: the node is empty of the pods the drain had to move.
	Emptied Outcome = "emptied"
	// PodsLeft: pods were still running at deadline − margin.
	PodsLeft Outcome = "pods-left"
	// NotCordoned: the node could not even be cordoned before the deadline.
	NotCordoned Outcome = "not-cordoned"
	// Cordoned: a cordon-only "drain" cordoned and tainted the node.
	Cordoned Outcome = "cordoned"
	// Planned: a dry run planned the drain and changed nothing.
	Planned Outcome = "planned"
	// Stopped: the drain was stopped by a [StopDrain] or [RestartDrain].
	Stopped Outcome = "stopped"
	// Failed: the drain could not run to its end after the cordon (the
	// node's pods could not be listed, the node went away).
	Failed Outcome = "failed"
)

// DrainEnded reports the end of the drain started as Seq.
type DrainEnded struct {
	// Seq is the drain's [Drain.Seq].
	Seq int
	// Outcome is how it ended.
	Outcome Outcome
	// Err is the error that ended it, nil if it ran its course.
	Err error
}

// Panicked reports a recovered panic in the drain started as Seq (0: in
// other work, such as carrying out an action). A drain that panicked is
// started again while time is left, up to Config.MaxRestarts times.
type Panicked struct {
	// Seq is the drain's [Drain.Seq], or 0.
	Seq int
	// In names the work that panicked.
	In string
}

// Resumed is what the node said at start-up: the notice a previous process
// recorded (nil if none) or that the record is unreadable (Unreadable not
// nil; it is then cleaned up once every kind of SourceIMDS is synced and
// nothing needs it). The owner hands over only records of its own sources.
type Resumed struct {
	Record     *Recorded
	Unreadable error
}

// Synced says a source has answered since start-up, for notices of Kind
// (instance metadata answers each kind on a path of its own) or, with Kind
// "", for every kind: a recorded notice of that source and kind it has not
// delivered again is gone, unless it is final and still in force (see
// [Machine]). A source that never reports Synced never undoes a record.
type Synced struct {
	Source Source
	Kind   Kind
}

func (Received) event()         {}
func (Withdrawn) event()        {}
func (RehearsalSet) event()     {}
func (RehearsalCleared) event() {}
func (DrainEnded) event()       {}
func (Panicked) event()         {}
func (Resumed) event()          {}
func (Synced) event()           {}
func (Woke) event()             {}
