package relay

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// ParseConfig reads the processor's behaviour through get (the secret's value
// when it has one, else the environment's). It fails on a value that can
// never work, naming the variable.
func ParseConfig(get func(string) string) (Config, error) {
	cfg := DefaultConfig()
	if v := get("FIRSTPROMOTER_REFERRAL_REWARD_IDS"); v != "" {
		cfg.ReferralRewardIDs = map[int64]bool{}
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			id, err := strconv.ParseInt(item, 10, 64)
			if err != nil {
				return Config{}, fmt.Errorf("FIRSTPROMOTER_REFERRAL_REWARD_IDS: %q is not a reward id", item)
			}
			cfg.ReferralRewardIDs[id] = true
		}
	}
	if v := get("FIRSTPROMOTER_UNITS"); v != "" {
		cfg.Units = map[reward.Unit]bool{}
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			u, err := reward.ParseUnit(item)
			if err != nil || u == reward.Cash {
				return Config{}, fmt.Errorf("FIRSTPROMOTER_UNITS: %q is not a non-monetary unit (points, credits, free_months, mon_discount, discount_per)", item)
			}
			cfg.Units[u] = true
		}
	}
	if v := get("IDEMPOTENCY_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Hour {
			return Config{}, fmt.Errorf("IDEMPOTENCY_TTL: %q is not a duration of at least 1h (e.g. 168h)", v)
		}
		cfg.IdempotencyTTL = d
	}
	if v := get("PROCESSOR_PARALLELISM"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 64 {
			return Config{}, fmt.Errorf("PROCESSOR_PARALLELISM: %q is not a number from 1 to 64", v)
		}
		cfg.Parallelism = n
	}
	return cfg, nil
}
