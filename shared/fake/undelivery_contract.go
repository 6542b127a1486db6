package fake

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// RunUndeliveryContract checks that a store keeps failed deliveries and
// redeliveries as the ports say: a failure's write covered by the available
// balance, the second outbox lane with its own age, the undelivered state
// in the write condition, and the audit clean after every case. newStore
// returns an empty store for each subtest.
func RunUndeliveryContract(t *testing.T, newStore func(t *testing.T) LedgerStore) {
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	acct := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("901"), Unit: reward.Points}
	actor := "arn:aws:iam::123456789012:user/shop"
	commission := func(t *testing.T, s LedgerStore, id string) reward.Commission {
		t.Helper()
		c, err := s.Commission(t.Context(), reward.FirstPromoter, id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	apply := func(t *testing.T, s LedgerStore, plan func() (reward.Change, error)) error {
		t.Helper()
		c, err := plan()
		if err != nil {
			t.Fatal(err)
		}
		return s.Apply(t.Context(), reward.EventRecord{}, c)
	}
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	// delivered writes an approved commission of amount, acknowledged
	// when ack is set.
	delivered := func(t *testing.T, s LedgerStore, id string, amount int64, ack bool, when time.Time) reward.Commission {
		t.Helper()
		c, err := reward.Plan(nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: id, EventID: "e" + id, Target: reward.TargetApproved, Account: acct, Amount: amount, Acknowledge: true, At: when})
		must(t, apply(t, s, func() (reward.Change, error) { return c, err }))
		if ack {
			must(t, apply(t, s, func() (reward.Change, error) { return reward.Acknowledge(commission(t, s, id), "", when) }))
		}
		return commission(t, s, id)
	}
	audit := func(t *testing.T, s LedgerStore) reward.Deltas {
		t.Helper()
		l, err := s.Ledger(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if v := l.Audit(); len(v) > 0 {
			t.Errorf("audit: %v", v)
		}
		var sum reward.Deltas
		for _, b := range l.Balances {
			sum = sum.Add(b.Deltas)
		}
		return sum
	}
	ids := func(cs []reward.Commission) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return fmt.Sprint(out)
	}

	t.Run("a failed delivery waits in its own lane, then a redelivery in the acknowledgements' lane", func(t *testing.T) {
		s := newStore(t)
		delivered(t, s, "71", 300, true, at)
		delivered(t, s, "72", 200, true, at)
		delivered(t, s, "73", 100, false, at)
		failedAt := at.Add(time.Hour)
		must(t, apply(t, s, func() (reward.Change, error) {
			return reward.PlanUndelivered(commission(t, s, "72"), "card declined", actor, failedAt)
		}))
		must(t, apply(t, s, func() (reward.Change, error) {
			return reward.PlanUndelivered(commission(t, s, "71"), "card declined", actor, failedAt.Add(time.Minute))
		}))
		got := commission(t, s, "72")
		if !got.Undelivered || got.UndeliveredReason != "card declined" || got.Undeliveries != 1 || got.Fulfilment != reward.UnfulfilRequested || !got.RequestedAt.Equal(failedAt) {
			t.Errorf("after the failure: %+v", got)
		}
		lane, err := s.UnfulfilOutbox(t.Context(), reward.FirstPromoter, 10)
		if err != nil {
			t.Fatal(err)
		}
		if ids(lane) != "[72 71]" {
			t.Errorf("unfulfil lane %s, want 72 then 71", ids(lane))
		}
		if out, _ := s.Outbox(t.Context(), reward.FirstPromoter, 10); ids(out) != "[73]" {
			t.Errorf("acknowledgements' lane %s, want 73 alone", ids(out))
		}
		if b := audit(t, s); b != (reward.Deltas{Available: 100, Fulfilled: 500}) {
			t.Errorf("balance %+v", b)
		}
		// The platform confirms 72; 71 is redelivered before it heard.
		must(t, apply(t, s, func() (reward.Change, error) {
			return reward.ConfirmUnfulfilled(commission(t, s, "72"), failedAt.Add(2*time.Hour)), nil
		}))
		redeliveredAt := failedAt.Add(3 * time.Hour)
		must(t, apply(t, s, func() (reward.Change, error) {
			return reward.PlanRedelivered(commission(t, s, "71"), actor, redeliveredAt)
		}))
		if lane, _ := s.UnfulfilOutbox(t.Context(), reward.FirstPromoter, 10); len(lane) != 0 {
			t.Errorf("unfulfil lane %s, want none", ids(lane))
		}
		out, _ := s.Outbox(t.Context(), reward.FirstPromoter, 10)
		if ids(out) != "[73 71]" || !out[1].RequestedAt.Equal(redeliveredAt) {
			t.Errorf("acknowledgements' lane %s (%+v), want 73 then 71 requested at its redelivery", ids(out), out)
		}
		if b := audit(t, s); b != (reward.Deltas{Available: 400}) {
			t.Errorf("balance %+v", b)
		}
		must(t, apply(t, s, func() (reward.Change, error) { return reward.Acknowledge(commission(t, s, "71"), "", redeliveredAt) }))
		_, entries, err := s.History(t.Context(), reward.FirstPromoter, "71")
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, e := range entries {
			kinds = append(kinds, e.ID)
			if e.Kind == reward.KindUndelivered && e.Actor != actor {
				t.Errorf("entry %s actor %q", e.ID, e.Actor)
			}
		}
		sort.Strings(kinds)
		want := "[firstpromoter#commission:71#ack firstpromoter#commission:71#ack#2 firstpromoter#commission:71#post firstpromoter#commission:71#redelivered#1 firstpromoter#commission:71#undelivered#1 firstpromoter#commission:71#unfulfilled#1]"
		if fmt.Sprint(kinds) != want {
			t.Errorf("entries %v, want %s", kinds, want)
		}
		if b := audit(t, s); b != (reward.Deltas{Available: 400, Fulfilled: 300}) {
			t.Errorf("balance %+v", b)
		}
	})

	t.Run("a redeemed reward cannot fail its delivery", func(t *testing.T) {
		s := newStore(t)
		delivered(t, s, "81", 500, true, at)
		req := reward.RedemptionRequest{Account: acct, Amount: 300, Key: "k", Fingerprint: "f", Actor: actor, At: at}
		rc, err := reward.PlanRedemption(req)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Redeem(t.Context(), rc); err != nil {
			t.Fatal(err)
		}
		err = apply(t, s, func() (reward.Change, error) {
			return reward.PlanUndelivered(commission(t, s, "81"), "failed", actor, at)
		})
		var short *reward.Insufficient
		if !errors.As(err, &short) || short.Available != 200 {
			t.Fatalf("failure of a redeemed reward: %v, want *Insufficient with 200 available", err)
		}
		if got := commission(t, s, "81"); got.Undelivered || got.Fulfilment != reward.Acknowledged {
			t.Errorf("after the refused failure: %+v", got)
		}
		if b := audit(t, s); b != (reward.Deltas{Available: 200, Fulfilled: 500, Redeemed: 300}) {
			t.Errorf("balance %+v", b)
		}
	})

	t.Run("a change planned before the failure is refused with the stored state", func(t *testing.T) {
		s := newStore(t)
		before := delivered(t, s, "91", 500, true, at)
		must(t, apply(t, s, func() (reward.Change, error) { return reward.PlanUndelivered(before, "failed", actor, at) }))
		// A denial planned from the delivered state would take from
		// available what is no longer there.
		stale, err := reward.Plan(&before, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "91", Target: reward.TargetDenied, Account: acct, Amount: 500, At: at})
		if err != nil {
			t.Fatal(err)
		}
		var mm *reward.Mismatch
		if err := s.Apply(t.Context(), reward.EventRecord{}, stale); !errors.As(err, &mm) || mm.Current == nil || !mm.Current.Undelivered {
			t.Fatalf("stale denial: %v, want *Mismatch with the undelivered state", err)
		}
		// Planned again from the stored state, it reverses the reward from
		// where it is.
		denial, err := reward.Plan(mm.Current, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "91", Target: reward.TargetDenied, Account: acct, Amount: 500, At: at})
		must(t, apply(t, s, func() (reward.Change, error) { return denial, err }))
		if b := audit(t, s); b != (reward.Deltas{Reversed: 500, Fulfilled: 500}) {
			t.Errorf("balance %+v", b)
		}
		// Planned twice from the same undelivered state, one redelivery
		// only is written.
		delivered(t, s, "92", 50, false, at)
		must(t, apply(t, s, func() (reward.Change, error) {
			return reward.PlanUndelivered(commission(t, s, "92"), "failed", actor, at)
		}))
		cur := commission(t, s, "92")
		first, _ := reward.PlanRedelivered(cur, actor, at)
		second, _ := reward.PlanRedelivered(cur, actor, at)
		must(t, s.Apply(t.Context(), reward.EventRecord{}, first))
		if err := s.Apply(t.Context(), reward.EventRecord{}, second); !errors.As(err, &mm) {
			t.Errorf("second redelivery from the same state: %v, want *Mismatch", err)
		}
		if b := audit(t, s); b != (reward.Deltas{Available: 50, Reversed: 500, Fulfilled: 500}) {
			t.Errorf("balance %+v", b)
		}
	})

	t.Run("the platform's answer about one failed delivery is not stored on a later one", func(t *testing.T) {
		s := newStore(t)
		delivered(t, s, "95", 200, true, at)
		must(t, apply(t, s, func() (reward.Change, error) {
			return reward.PlanUndelivered(commission(t, s, "95"), "failed", actor, at)
		}))
		first := commission(t, s, "95")
		must(t, apply(t, s, func() (reward.Change, error) { return reward.PlanRedelivered(commission(t, s, "95"), actor, at) }))
		must(t, apply(t, s, func() (reward.Change, error) { return reward.Acknowledge(commission(t, s, "95"), "", at) }))
		must(t, apply(t, s, func() (reward.Change, error) {
			return reward.PlanUndelivered(commission(t, s, "95"), "failed again", actor, at)
		}))
		refused := first
		refused.Fulfilment, refused.FulfilmentError = reward.UnfulfilRefused, "refused"
		if err := s.SetFulfilment(t.Context(), refused, first.Fulfilment); !errors.As(err, new(*reward.Mismatch)) {
			t.Errorf("an answer about the first failure stored on the second: %v, want *Mismatch", err)
		}
		if lane, err := s.UnfulfilOutbox(t.Context(), reward.FirstPromoter, 10); err != nil || ids(lane) != "[95]" {
			t.Errorf("lane %s (%v), want the second failure in it", ids(lane), err)
		}
		audit(t, s)
	})
}
