package lifecycle

import (
	"flag"
	"fmt"
	"time"
)

// Config tunes the Manager. Start from DefaultConfig.
type Config struct {
	// MaxDrain bounds how long a termination hook holds an instance for its
	// drain (--lifecycle-max-drain): the drain's deadline is the event time
	// plus the lesser of MaxDrain and the hook's global timeout. 0 means as
	// long as the hook allows (up to 48 hours).
	MaxDrain time.Duration
	// LaunchTimeout is how long a launch hook may wait for the instance's
	// node to be Ready before the action is abandoned (--launch-timeout).
	// 0 means as long as the hook allows.
	LaunchTimeout time.Duration
	// HeartbeatFraction is the part of a hook's heartbeat timeout between
	// heartbeats, in (0, 1): 1/3 keeps an instance held through two lost
	// heartbeats.
	HeartbeatFraction float64
	// LaunchPoll is how often Launch looks for the instance's Ready node
	// (in the caller's index: no API call).
	LaunchPoll time.Duration
}

// DefaultConfig is the configuration behind the default flags.
func DefaultConfig() Config {
	return Config{MaxDrain: 15 * time.Minute, LaunchTimeout: 10 * time.Minute, HeartbeatFraction: 1.0 / 3, LaunchPoll: time.Second}
}

// RegisterFlags adds --lifecycle-max-drain and --launch-timeout to fs,
// filling c (whose values are the defaults).
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.MaxDrain, "lifecycle-max-drain", c.MaxDrain,
		"longest a termination lifecycle hook holds an instance for its drain (heartbeats keep it held); the node's drain deadline; 0 means as long as the hook allows (48h at most)")
	fs.DurationVar(&c.LaunchTimeout, "launch-timeout", c.LaunchTimeout,
		"a launch lifecycle hook's instance whose node is not Ready by then is abandoned (ABANDON); 0 means as long as the hook allows")
}

// Validate says what is wrong with c, or nil.
func (c Config) Validate() error {
	switch {
	case c.MaxDrain < 0:
		return fmt.Errorf("--lifecycle-max-drain %v is negative: use a duration like 15m, or 0 for as long as the hook allows", c.MaxDrain)
	case c.LaunchTimeout < 0:
		return fmt.Errorf("--launch-timeout %v is negative: use a duration like 10m, or 0 for as long as the hook allows", c.LaunchTimeout)
	case c.HeartbeatFraction <= 0 || c.HeartbeatFraction >= 1:
		return fmt.Errorf("heartbeat fraction %v is not in (0, 1)", c.HeartbeatFraction)
	case c.LaunchPoll <= 0:
		return fmt.Errorf("launch poll interval %v is not positive", c.LaunchPoll)
	}
	return nil
}
