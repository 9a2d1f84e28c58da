package main

import "github.com/spot-handler/spot-handler/pkg/advisor"

// checkSources checks the flags that say where data comes from and how
// much it weighs.
func (c *adviseConfig) checkSources() error {
	if err := checkRegion(c.region); err != nil {
		return usagef("spot-handler advise: %v", err)
	}
	if c.riskWeight < 0 {
		return usagef("spot-handler advise: --risk-weight=%v: use 0 or more (0: price alone; a negative weight would favour the types interrupted most)", c.riskWeight)
	}
	if c.priorNodeHours < 0 {
		return usagef("spot-handler advise: --prior-node-hours=%v: use 0 or more (default %v)", c.priorNodeHours, advisor.DefaultPriorNodeHours)
	}
	if c.maxAge <= 0 {
		return usagef("spot-handler advise: --max-age=%v: use a positive duration (default 24h)", c.maxAge)
	}
	if err := checkURL("--feed-url", c.feedURL, "an http(s) URL (default "+advisor.DefaultFeedURL+"); for a file use --data"); err != nil {
		return usagef("spot-handler advise: %v", err)
	}
	if c.prometheusURL != "" {
		if err := checkURL("--prometheus-url", c.prometheusURL, "an http(s) URL like http://prometheus:9090"); err != nil {
			return usagef("spot-handler advise: %v", err)
		}
	}
	return nil
}
