package imds

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
)

// Identity describes the instance the agent runs on.
type Identity struct {
	// InstanceID is meta-data/instance-id, e.g. i-1234567890abcdef0.
	InstanceID string
	// InstanceType is meta-data/instance-type, e.g. m5.large.
	InstanceType string
	// AvailabilityZone is meta-data/placement/availability-zone, e.g. us-east-1a.
	AvailabilityZone string
	// Region is meta-data/placement/region, e.g. us-east-1.
	Region string
	// LifeCycle is meta-data/instance-life-cycle: "spot" or "on-demand".
	LifeCycle string
}

// idField is one Identity field and the metadata path it comes from.
type idField struct {
	path string
	val  *string
}

// identityFields lists each Identity field with its metadata path.
func identityFields(id *Identity) []idField {
	return []idField{
		{"meta-data/instance-id", &id.InstanceID},
		{"meta-data/instance-type", &id.InstanceType},
		{"meta-data/placement/availability-zone", &id.AvailabilityZone},
		{"meta-data/placement/region", &id.Region},
		{"meta-data/instance-life-cycle", &id.LifeCycle},
	}
}

// Identity reads each identity field once. It returns every field it could
// read, and, if any failed, an error that joins each field's failure.
func (c *Client) Identity(ctx context.Context) (Identity, error) {
	var id Identity
	err := c.fillIdentity(ctx, &id)
	return id, err
}

// WaitIdentity reads the identity until every field is known or ctx ends,
// waiting between attempts as the watcher does after failures (doubling
// from PollInterval up to MaxBackoff). Fields read once are kept. When ctx
// ends first it returns the fields known so far and an error that wraps
// ctx.Err() and the last failure; the caller can run without the identity.
func (c *Client) WaitIdentity(ctx context.Context) (Identity, error) {
	var id Identity
	for failures := 1; ; failures++ {
		err := c.fillIdentity(ctx, &id)
		if err == nil {
			return id, nil
		}
		if ctx.Err() == nil {
			c.log.Warn("instance identity incomplete, retrying",
				zap.Int("attempt", failures), zap.Error(err))
		}
		if werr := sleep(ctx, c.cfg.Clock, backoff(c.cfg, failures)); werr != nil {
			return id, fmt.Errorf("waiting for instance identity: %w", errors.Join(werr, err))
		}
	}
}

// fillIdentity reads each empty field of id once.
func (c *Client) fillIdentity(ctx context.Context, id *Identity) error {
	var errs []error
	for _, f := range identityFields(id) {
		if *f.val != "" {
			continue
		}
		v, err := c.identityField(ctx, f.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*f.val = v
	}
	return errors.Join(errs...)
}

// identityField reads one identity path and checks that its value is one
// word.
func (c *Client) identityField(ctx context.Context, path string) (string, error) {
	body, outcome, err := c.get(ctx, path)
	if err != nil {
		c.observe(ctx, path, outcome)
		return "", err
	}
	v := string(bytes.TrimSpace(body))
	if !token(v) {
		c.observe(ctx, path, OutcomeParseError)
		return "", fmt.Errorf("reading %s: value %q is not a single word", path, truncate(v))
	}
	c.observe(ctx, path, outcome)
	return v, nil
}
