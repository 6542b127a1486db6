package fake

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// LedgerStore is a store of both ports: the ledger and redemptions.
type LedgerStore interface {
	reward.Store
	reward.RedemptionStore
}

// RunRedemptionContract checks that a reward.RedemptionStore behaves as the
// port says, with the ledger's audit clean after every case. newStore
// returns an empty store for each subtest.
func RunRedemptionContract(t *testing.T, newStore func(t *testing.T) LedgerStore) {
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	acct := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("801"), Unit: reward.Points}
	// deliver credits amount to acct's available balance: an approved
	// commission, as the processor writes it.
	deliver := func(t *testing.T, s LedgerStore, id string, amount int64) {
		t.Helper()
		c, err := reward.Plan(nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: id, EventID: "e" + id, Target: reward.TargetApproved, Account: acct, Amount: amount, At: at})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(t.Context(), reward.EventRecord{}, c); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	request := func(key string, amount int64, hold bool) reward.RedemptionRequest {
		return reward.RedemptionRequest{Account: acct, Amount: amount, Hold: hold, Key: key, Fingerprint: fmt.Sprintf("%d/%v", amount, hold), Actor: "arn:aws:iam::123456789012:role/shop", At: at}
	}
	redeem := func(t *testing.T, s LedgerStore, req reward.RedemptionRequest) (reward.Redemption, error) {
		t.Helper()
		c, err := reward.PlanRedemption(req)
		if err != nil {
			t.Fatal(err)
		}
		return c.After, s.Redeem(t.Context(), c)
	}
	transition := func(t *testing.T, s LedgerStore, id string, action reward.RedemptionAction, when time.Time) (reward.Redemption, error) {
		t.Helper()
		cur, err := s.Redemption(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		c, err := reward.PlanRedemptionTransition(cur, action, "arn:aws:iam::123456789012:role/ops", when)
		if err != nil || c.Unchanged {
			return c.After, err
		}
		return c.After, s.TransitionRedemption(t.Context(), c)
	}
	balance := func(t *testing.T, s LedgerStore) reward.Deltas {
		t.Helper()
		l, err := s.Ledger(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if v := l.Audit(); len(v) > 0 {
			t.Errorf("audit: %v", v)
		}
		bs, err := s.RecipientBalances(t.Context(), acct.Recipient)
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) != 1 || bs[0].Account != acct {
			t.Fatalf("RecipientBalances: %+v, want one of %s", bs, acct)
		}
		return bs[0].Deltas
	}

	t.Run("a redemption moves available to redeemed, once per key", func(t *testing.T) {
		s := newStore(t)
		deliver(t, s, "1", 1000)
		r, err := redeem(t, s, request("k1", 300, false))
		if err != nil {
			t.Fatalf("Redeem: %v", err)
		}
		if b := balance(t, s); b != (reward.Deltas{Available: 700, Redeemed: 300}) {
			t.Errorf("balance %+v", b)
		}
		_, err = redeem(t, s, request("k1", 300, false))
		var exists *reward.RedemptionExists
		if !errors.As(err, &exists) || exists.Current.ID != r.ID || !exists.Current.Replays(request("k1", 300, false)) || exists.Current.Replays(request("k1", 400, false)) {
			t.Fatalf("Redeem again: %v (%+v), want the stored redemption", err, exists)
		}
		got, err := s.Redemption(t.Context(), r.ID)
		if err != nil || got.Status != reward.RedemptionPosted || got.Amount != 300 || got.Version != 1 || !got.CreatedAt.Equal(at) || got.Actor != r.Actor {
			t.Errorf("Redemption: %+v %v", got, err)
		}
		if b := balance(t, s); b != (reward.Deltas{Available: 700, Redeemed: 300}) {
			t.Errorf("balance %+v after a replay", b)
		}
	})

	t.Run("a redemption over the available balance is refused with it", func(t *testing.T) {
		s := newStore(t)
		_, err := redeem(t, s, request("k1", 1, false))
		var short *reward.Insufficient
		if !errors.As(err, &short) || short.Available != 0 {
			t.Fatalf("Redeem without a balance: %v, want Insufficient 0", err)
		}
		deliver(t, s, "1", 500)
		if _, err := redeem(t, s, request("k2", 501, false)); !errors.As(err, &short) || short.Available != 500 {
			t.Fatalf("Redeem over the balance: %v, want Insufficient 500", err)
		}
		if _, err := s.Redemption(t.Context(), reward.RedemptionID(acct.Recipient, "k2")); !errors.Is(err, reward.ErrNotFound) {
			t.Errorf("a refused redemption is stored: %v", err)
		}
		if _, err := redeem(t, s, request("k3", 500, true)); err != nil {
			t.Fatalf("hold the whole balance: %v", err)
		}
		if b := balance(t, s); b != (reward.Deltas{Held: 500}) {
			t.Errorf("balance %+v", b)
		}
	})

	t.Run("holds are captured, voided or reversed once", func(t *testing.T) {
		s := newStore(t)
		deliver(t, s, "1", 1000)
		h1, _ := redeem(t, s, request("h1", 100, true))
		h2, _ := redeem(t, s, request("h2", 200, true))
		if b := balance(t, s); b != (reward.Deltas{Available: 700, Held: 300}) {
			t.Errorf("balance %+v with two holds", b)
		}
		if r, err := transition(t, s, h1.ID, reward.ActionCapture, at.Add(time.Minute)); err != nil || r.Status != reward.RedemptionPosted {
			t.Fatalf("capture: %+v %v", r, err)
		}
		if r, err := transition(t, s, h1.ID, reward.ActionCapture, at.Add(2*time.Minute)); err != nil || r.Status != reward.RedemptionPosted || r.Version != 2 {
			t.Fatalf("capture again: %+v %v, want the same posted redemption", r, err)
		}
		if _, err := transition(t, s, h2.ID, reward.ActionVoid, at.Add(time.Minute)); err != nil {
			t.Fatalf("void: %v", err)
		}
		if _, err := transition(t, s, h2.ID, reward.ActionCapture, at.Add(time.Minute)); !errors.Is(err, reward.ErrTransition) {
			t.Errorf("capture a voided hold: %v, want ErrTransition", err)
		}
		if b := balance(t, s); b != (reward.Deltas{Available: 900, Redeemed: 100}) {
			t.Errorf("balance %+v after capture and void", b)
		}
		if _, err := transition(t, s, h1.ID, reward.ActionReverse, at.Add(time.Hour)); err != nil {
			t.Fatalf("reverse: %v", err)
		}
		if b := balance(t, s); b != (reward.Deltas{Available: 1000}) {
			t.Errorf("balance %+v after the reversal", b)
		}
		r, entries, err := s.RedemptionHistory(t.Context(), h1.ID)
		var kinds []reward.EntryKind
		for _, e := range entries {
			kinds = append(kinds, e.Kind)
		}
		if err != nil || r.Status != reward.RedemptionReversed || !cmp.Equal(kinds, []reward.EntryKind{reward.KindRedeemHold, reward.KindRedeemCapture, reward.KindRedeemReverse}) {
			t.Errorf("RedemptionHistory: %+v %v %v", r, kinds, err)
		}
		if _, _, err := s.RedemptionHistory(t.Context(), "rdm_none"); !errors.Is(err, reward.ErrNotFound) {
			t.Errorf("RedemptionHistory of an unknown redemption: %v, want ErrNotFound", err)
		}
	})

	t.Run("a transition planned on an old state is refused with the current one", func(t *testing.T) {
		s := newStore(t)
		deliver(t, s, "1", 1000)
		h, _ := redeem(t, s, request("h", 100, true))
		cur, _ := s.Redemption(t.Context(), h.ID)
		capture, err := reward.PlanRedemptionTransition(cur, reward.ActionCapture, "a", at.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		void, _ := reward.PlanRedemptionTransition(cur, reward.ActionVoid, "b", at.Add(time.Minute))
		if err := s.TransitionRedemption(t.Context(), void); err != nil {
			t.Fatal(err)
		}
		var m *reward.RedemptionMismatch
		if err := s.TransitionRedemption(t.Context(), capture); !errors.As(err, &m) || m.Current.Status != reward.RedemptionVoided || m.Current.Version != 2 {
			t.Fatalf("capture after a void: %v, want the voided redemption", err)
		}
		if b := balance(t, s); b != (reward.Deltas{Available: 1000}) {
			t.Errorf("balance %+v", b)
		}
		missing := capture
		missing.After.ID, missing.Before = "rdm_none", &reward.Redemption{ID: "rdm_none", Status: reward.RedemptionHeld, Version: 1}
		if err := s.TransitionRedemption(t.Context(), missing); !errors.Is(err, reward.ErrNotFound) {
			t.Errorf("transition of an unknown redemption: %v, want ErrNotFound", err)
		}
	})

	t.Run("expired holds are listed by expiry until voided", func(t *testing.T) {
		s := newStore(t)
		deliver(t, s, "1", 1000)
		short := request("short", 10, true)
		short.HoldTTL = time.Minute
		hs, _ := redeem(t, s, short)
		hl, _ := redeem(t, s, request("long", 20, true)) // 900 s
		if _, err := redeem(t, s, request("posted", 30, false)); err != nil {
			t.Fatal(err)
		}
		list := func(when time.Time) []string {
			t.Helper()
			got, err := s.ExpiredHolds(t.Context(), when, 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range got {
				ids = append(ids, r.ID)
			}
			return ids
		}
		if got := list(at.Add(30 * time.Second)); len(got) != 0 {
			t.Errorf("expired before their time: %v", got)
		}
		if diff := cmp.Diff([]string{hs.ID, hl.ID}, list(at.Add(time.Hour))); diff != "" {
			t.Errorf("expired holds (-want +got):\n%s", diff)
		}
		if _, err := transition(t, s, hs.ID, reward.ActionExpire, at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{hl.ID}, list(at.Add(time.Hour))); diff != "" {
			t.Errorf("expired holds after a void (-want +got):\n%s", diff)
		}
		if b := balance(t, s); b != (reward.Deltas{Available: 950, Redeemed: 30, Held: 20}) {
			t.Errorf("balance %+v", b)
		}
	})

	t.Run("a recipient's entries newest first, page by page", func(t *testing.T) {
		s := newStore(t)
		deliver(t, s, "1", 1000)
		var want []string
		for i := range 5 {
			req := request(fmt.Sprintf("k%d", i), 10, false)
			req.At = at.Add(time.Duration(i+1) * time.Minute)
			r, err := redeem(t, s, req)
			if err != nil {
				t.Fatal(err)
			}
			want = append([]string{"firstpromoter#redemption:" + r.ID + "#redeem"}, want...)
		}
		want = append(want, "firstpromoter#commission:1#post")
		var got []string
		cursor := ""
		for page := 0; ; page++ {
			entries, next, err := s.RecipientEntries(t.Context(), acct.Recipient, 2, cursor)
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			for _, e := range entries {
				got = append(got, e.ID)
			}
			if next == "" {
				if len(entries) == 0 || page != 2 {
					t.Errorf("the last page is page %d with %d entries, want page 2 with 2", page, len(entries))
				}
				break
			}
			if page > 5 {
				t.Fatal("the pages never end")
			}
			cursor = next
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		entries, _, _ := s.RecipientEntries(t.Context(), acct.Recipient, 1, "")
		if len(entries) != 1 || entries[0].Actor == "" || entries[0].Deltas != (reward.Deltas{Available: -10, Redeemed: 10}) {
			t.Errorf("newest entry %+v, want the redemption with its actor", entries)
		}
		if entries, next, err := s.RecipientEntries(t.Context(), reward.Promoter("none"), 50, ""); err != nil || len(entries) != 0 || next != "" {
			t.Errorf("an unknown recipient's entries: %v %q %v", entries, next, err)
		}
		if bs, err := s.RecipientBalances(t.Context(), reward.Promoter("none")); err != nil || len(bs) != 0 {
			t.Errorf("an unknown recipient's balances: %v %v", bs, err)
		}
		if _, _, err := s.RecipientEntries(t.Context(), acct.Recipient, 2, "not-a-cursor"); !errors.Is(err, reward.ErrInvalid) {
			t.Errorf("a bad cursor: %v, want ErrInvalid", err)
		}
	})

	t.Run("concurrent redemptions never overdraw", func(t *testing.T) {
		s := newStore(t)
		const amount, n = 70, 50
		deliver(t, s, "1", 1000)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				c, err := reward.PlanRedemption(request(fmt.Sprintf("c%d", i), amount, i%2 == 0))
				if err != nil {
					errs[i] = err
					return
				}
				// A transaction conflict is retried, as the API does.
				for range 20 {
					if errs[i] = s.Redeem(t.Context(), c); !errors.Is(errs[i], reward.ErrConflict) {
						return
					}
				}
			})
		}
		wg.Wait()
		ok, short := 0, 0
		for _, err := range errs {
			var in *reward.Insufficient
			switch {
			case err == nil:
				ok++
			case errors.As(err, &in):
				short++
			default:
				t.Errorf("Redeem: %v", err)
			}
		}
		if ok != 1000/amount || short != n-1000/amount {
			t.Errorf("%d succeeded and %d were refused, want %d and %d", ok, short, 1000/amount, n-1000/amount)
		}
		b := balance(t, s)
		if b.Available != 1000%amount || b.Redeemed+b.Held != 1000/amount*amount {
			t.Errorf("balance %+v", b)
		}
	})
}
