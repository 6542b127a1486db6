package reward

import (
	"errors"
	"testing"
	"time"
)

func TestRedemptionTransitions(t *testing.T) {
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	acct := Account{Provider: FirstPromoter, Recipient: Promoter("801"), Unit: Points}
	plan := func(hold bool) Redemption {
		c, err := PlanRedemption(RedemptionRequest{Account: acct, Amount: 100, Hold: hold, Key: "k", At: at})
		if err != nil {
			t.Fatal(err)
		}
		return c.After
	}
	held, posted := plan(true), plan(false)
	voided, reversed := held, posted
	voided.Status, reversed.Status = RedemptionVoided, RedemptionReversed
	for _, tc := range []struct {
		name   string
		cur    Redemption
		action RedemptionAction
		at     time.Time
		want   RedemptionStatus
		kind   EntryKind
		d      Deltas
		err    error
	}{
		{"capture a hold", held, ActionCapture, at.Add(time.Minute), RedemptionPosted, KindRedeemCapture, Deltas{Held: -100, Redeemed: 100}, nil},
		{"void a hold", held, ActionVoid, at.Add(time.Minute), RedemptionVoided, KindRedeemVoid, Deltas{Held: -100, Available: 100}, nil},
		{"reverse a posted redemption", posted, ActionReverse, at, RedemptionReversed, KindRedeemReverse, Deltas{Redeemed: -100, Available: 100}, nil},
		{"expire a hold at its expiry", held, ActionExpire, at.Add(DefaultHoldTTL), RedemptionVoided, KindRedeemVoid, Deltas{Held: -100, Available: 100}, nil},
		{"capture a hold at its expiry", held, ActionCapture, at.Add(DefaultHoldTTL), "", "", Deltas{}, ErrHoldExpired},
		{"expire a hold before its expiry", held, ActionExpire, at.Add(time.Minute), "", "", Deltas{}, ErrTransition},
		{"capture a voided hold", voided, ActionCapture, at, "", "", Deltas{}, ErrTransition},
		{"reverse a hold", held, ActionReverse, at, "", "", Deltas{}, ErrTransition},
		{"void a posted redemption", posted, ActionVoid, at, "", "", Deltas{}, ErrTransition},
		{"reverse a reversed redemption", reversed, ActionReverse, at, RedemptionReversed, "", Deltas{}, nil},
		{"void a voided hold", voided, ActionVoid, at, RedemptionVoided, "", Deltas{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := PlanRedemptionTransition(tc.cur, tc.action, "actor", tc.at)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if c.After.Status != tc.want {
				t.Errorf("status %s, want %s", c.After.Status, tc.want)
			}
			if tc.kind == "" {
				if !c.Unchanged || len(c.Entries) != 0 {
					t.Errorf("a repeat plans %+v, want nothing", c)
				}
				return
			}
			if len(c.Entries) != 1 || c.Entries[0].Kind != tc.kind || c.Entries[0].Deltas != tc.d || c.Entries[0].ID != "firstpromoter#redemption:"+tc.cur.ID+"#"+string(tc.kind) || c.Entries[0].Actor != "actor" {
				t.Errorf("entries %+v, want one %s of %+v", c.Entries, tc.kind, tc.d)
			}
			if c.After.Version != tc.cur.Version+1 {
				t.Errorf("version %d, want %d", c.After.Version, tc.cur.Version+1)
			}
		})
	}
}

func TestPlanRedemptionRefusesWhatCannotBeStored(t *testing.T) {
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	ok := RedemptionRequest{Account: Account{Provider: AgentRef, Recipient: Affiliate("a"), Unit: Cash, Currency: "usd"}, Amount: 1, Key: "k", At: at}
	for name, change := range map[string]func(*RedemptionRequest){
		"amount 0":           func(r *RedemptionRequest) { r.Amount = 0 },
		"negative amount":    func(r *RedemptionRequest) { r.Amount = -5 },
		"amount over max":    func(r *RedemptionRequest) { r.Amount = MaxAmount + 1 },
		"no key":             func(r *RedemptionRequest) { r.Key = "" },
		"key with a newline": func(r *RedemptionRequest) { r.Key = "a\nb" },
		"key too long":       func(r *RedemptionRequest) { r.Key = string(make([]byte, 256)) },
		"bad recipient":      func(r *RedemptionRequest) { r.Account.Recipient = "someone" },
		"hold over 7 days":   func(r *RedemptionRequest) { r.Hold, r.HoldTTL = true, MaxHoldTTL+time.Second },
	} {
		req := ok
		change(&req)
		if _, err := PlanRedemption(req); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	c, err := PlanRedemption(ok)
	if err != nil || c.After.ID != RedemptionID(ok.Account.Recipient, "k") || c.After.Status != RedemptionPosted || !c.After.HoldExpiresAt.IsZero() {
		t.Fatalf("PlanRedemption: %+v %v", c, err)
	}
	ok.Hold = true
	if c, _ := PlanRedemption(ok); c.After.Status != RedemptionHeld || !c.After.HoldExpiresAt.Equal(at.Add(900*time.Second)) {
		t.Errorf("hold %+v, want one that expires after 900 s", c.After)
	}
	if RedemptionID(Promoter("1"), "k") == RedemptionID(Promoter("2"), "k") {
		t.Error("a key names the same redemption for two recipients")
	}
}

func TestAuditRedemptions(t *testing.T) {
	acct := Account{Provider: FirstPromoter, Recipient: Promoter("801"), Unit: Points}
	c, _ := PlanRedemption(RedemptionRequest{Account: acct, Amount: 100, Hold: true, Key: "k", At: time.Now()})
	if v := AuditRedemptions(c.Entries, []Redemption{c.After}); len(v) != 0 {
		t.Errorf("a held redemption with its entry: %v", v)
	}
	voided := c.After
	voided.Status = RedemptionVoided
	if v := AuditRedemptions(c.Entries, []Redemption{voided}); len(v) != 1 {
		t.Errorf("a voided redemption whose hold was never voided: %v, want one violation", v)
	}
}
