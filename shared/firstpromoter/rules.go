package firstpromoter

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// DefaultRules deliver the five non-monetary units and no referral reward.
func DefaultRules() Rules {
	units := map[reward.Unit]bool{}
	for _, u := range reward.NonMonetary {
		units[u] = true
	}
	return Rules{Units: units}
}

// ParseRules reads the deployment's choices through get
// (FIRSTPROMOTER_REFERRAL_REWARD_IDS, FIRSTPROMOTER_UNITS). It fails on a
// value that can never work, naming the variable.
func ParseRules(get func(string) string) (Rules, error) {
	r := DefaultRules()
	if v := get("FIRSTPROMOTER_REFERRAL_REWARD_IDS"); v != "" {
		r.ReferralRewardIDs = map[int64]bool{}
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			id, err := strconv.ParseInt(item, 10, 64)
			if err != nil {
				return Rules{}, fmt.Errorf("FIRSTPROMOTER_REFERRAL_REWARD_IDS: %q is not a reward id", item)
			}
			r.ReferralRewardIDs[id] = true
		}
	}
	if v := get("FIRSTPROMOTER_UNITS"); v != "" {
		r.Units = map[reward.Unit]bool{}
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			u, err := reward.ParseUnit(item)
			if err != nil || u == reward.Cash {
				return Rules{}, fmt.Errorf("FIRSTPROMOTER_UNITS: %q is not a non-monetary unit (points, credits, free_months, mon_discount, discount_per)", item)
			}
			r.Units[u] = true
		}
	}
	return r, nil
}
