package firstpromoter

import (
	"testing"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

func points() Rules {
	return Rules{ReferralRewardIDs: map[int64]bool{99: true}, Units: map[reward.Unit]bool{reward.Points: true, reward.Cash: true}}
}

// TestEventIntentTakesThePlatformsViewOverTheEvent: the platform's
// current status, unit, amount and recipient win over an old event's; a
// deletion stays a denial.
func TestEventIntentTakesThePlatformsViewOverTheEvent(t *testing.T) {
	e, err := ParseEvent([]byte(`{"event_type":"commission.updated","data":{"id":5,"status":"pending","unit":"points","amount":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	c := Commission{ID: 5, Status: "approved", Unit: "points", Amount: 500, PromoterCampaign: PromoterCampaign{PromoterID: 7}}
	in, v, err := points().EventIntent(e, 5, c, true)
	if err != nil || v != Apply {
		t.Fatalf("verdict %v, error %v", v, err)
	}
	want := reward.Intent{Provider: reward.FirstPromoter, CommissionID: "5", Target: reward.TargetApproved, Amount: 500, Acknowledge: true,
		Account: reward.Account{Provider: reward.FirstPromoter, Unit: reward.Points, Recipient: reward.Promoter("7")}}
	if in != want {
		t.Errorf("intent %+v, want %+v", in, want)
	}
	e.EventType = "commission.deleted"
	if in, _, _ := points().EventIntent(e, 5, c, true); in.Target != reward.TargetDenied {
		t.Errorf("deleted: target %v, want denied", in.Target)
	}
}

// TestEventIntentVerdicts: cash and undelivered units are ignored, a
// commission the platform did not return is not listed (unless denied:
// the ledger's account then applies), and a referral reward without its
// referral names no recipient.
func TestEventIntentVerdicts(t *testing.T) {
	parse := func(body string) Event {
		e, err := ParseEvent([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if _, v, _ := points().EventIntent(parse(`{"event_type":"commission.created","data":{"id":1,"unit":"cash","amount":5}}`), 1, Commission{}, false); v != Ignore {
		t.Errorf("cash: verdict %v, want Ignore", v)
	}
	if _, v, _ := points().EventIntent(parse(`{"event_type":"commission.approved","data":{"id":1,"unit":"points"}}`), 1, Commission{}, false); v != NotListed {
		t.Errorf("not returned: verdict %v, want NotListed", v)
	}
	if _, v, _ := points().EventIntent(parse(`{"event_type":"commission.denied","data":{"id":1,"unit":"points"}}`), 1, Commission{}, false); v != StoredAccount {
		t.Errorf("denied, not returned: verdict %v, want StoredAccount", v)
	}
	referral := Commission{ID: 1, Status: "approved", Unit: "points", Amount: 5, Reward: &Reward{ID: 99}}
	if _, _, err := points().EventIntent(parse(`{"event_type":"commission.approved","data":{"id":1}}`), 1, referral, true); err == nil {
		t.Error("a referral reward without its referral: no error")
	}
	in, v, err := points().EventIntent(parse(`{"event_type":"commission.approved","data":{"id":1,"referral":{"id":4,"uid":"u4"}}}`), 1, referral, true)
	if err != nil || v != Apply || in.Account.Recipient != reward.Referral("u4", "4") {
		t.Errorf("referral named by the event: %+v, %v, %v", in.Account, v, err)
	}
	if _, _, err := points().EventIntent(parse(`{"event_type":"commission.created","data":{"id":1,"unit":"stars"}}`), 1, Commission{}, false); err == nil {
		t.Error("unknown unit: no error")
	}
}
