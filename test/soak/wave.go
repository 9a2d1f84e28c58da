package soak

import (
	"fmt"
	"time"
)

// WaveFaults are a wave's faults of the long-lived controllers and their
// queue, shared by every node of the wave in mode controller or both.
type WaveFaults struct {
	Controller string        // none, leader-kill, lease-hang, burst-503, sqs-pause
	At         time.Duration // after the wave's start
	For        time.Duration // lease-hang, burst-503, sqs-pause: how long; leader-kill: restart after
	Foreign    bool          // another cluster's instance gets a terminate lifecycle action on the queue
}

// waveDraw is the node index of a wave's own draw.
const waveDraw = 1 << 19

// DrawWave draws wave's controller faults from seed.
func DrawWave(seed uint64, wave int, lim Limits) WaveFaults {
	r := Rand(seed, wave, waveDraw)
	w := WaveFaults{Controller: "none"}
	if !lim.Faults {
		return w
	}
	w.Foreign = r.IntN(3) == 0
	w.Controller = pick(r, []string{"none", "leader-kill", "lease-hang", "burst-503", "sqs-pause"})
	w.At = time.Duration(2000+r.IntN(28000)) * time.Millisecond
	switch w.Controller {
	case "leader-kill":
		w.For = time.Duration(1000+r.IntN(2000)) * time.Millisecond
	case "lease-hang":
		w.For = 16 * time.Second // past the 10 s renew deadline and a 2 s retry: the leader steps down
	case "burst-503":
		w.For = 5 * time.Second
	case "sqs-pause":
		w.For = time.Duration(5000+r.IntN(25000)) * time.Millisecond
	}
	return w
}

// String describes the wave's draw.
func (w WaveFaults) String() string {
	s := "controllers: " + w.Controller
	if w.Controller != "none" {
		s += fmt.Sprintf(" at +%v for %v", w.At.Round(time.Millisecond), w.For.Round(time.Millisecond))
	}
	if w.Foreign {
		s += "; another cluster's instance gets a terminate lifecycle action"
	}
	return s
}
