package firstpromoter

import (
	"strings"
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

func TestParseRules(t *testing.T) {
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	r, err := ParseRules(get(map[string]string{"FIRSTPROMOTER_REFERRAL_REWARD_IDS": "3, 9", "FIRSTPROMOTER_UNITS": "points,credits"}))
	if err != nil {
		t.Fatal(err)
	}
	if !r.ReferralRewardIDs[9] || !r.ReferralRewardIDs[3] || len(r.Units) != 2 || !r.Delivers(reward.Credits) {
		t.Errorf("rules %+v", r)
	}
	r, _ = ParseRules(get(nil))
	if len(r.Units) != 5 || r.Units[reward.Cash] || len(r.ReferralRewardIDs) != 0 {
		t.Errorf("defaults %+v", r)
	}
	for k, v := range map[string]string{"FIRSTPROMOTER_REFERRAL_REWARD_IDS": "abc", "FIRSTPROMOTER_UNITS": "cash"} {
		if _, err := ParseRules(get(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming it", k, v, err)
		}
	}
}
