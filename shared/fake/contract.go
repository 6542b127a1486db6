package fake

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// RunStoreContract checks that a reward.Store behaves as the port says.
// newStore returns an empty store for each subtest.
func RunStoreContract(t *testing.T, newStore func(t *testing.T) reward.Store) {
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	acct := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("12"), Unit: reward.Points}
	ev := func(id string) reward.EventRecord {
		return reward.EventRecord{Provider: reward.FirstPromoter, ID: id, Type: "commission.updated", ReceivedAt: at, ExpiresAt: at.Add(7 * 24 * time.Hour)}
	}
	in := func(target reward.Target, amount int64) reward.Intent {
		return reward.Intent{Provider: reward.FirstPromoter, CommissionID: "41", EventID: "e", Target: target, Account: acct, Amount: amount, Acknowledge: true, At: at}
	}
	plan := func(t *testing.T, cur *reward.Commission, i reward.Intent) reward.Change {
		t.Helper()
		c, err := reward.Plan(cur, i)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	apply := func(t *testing.T, s reward.Store, e reward.EventRecord, c reward.Change) {
		t.Helper()
		if err := s.Apply(t.Context(), e, c); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	audit := func(t *testing.T, s reward.Store) reward.Ledger {
		t.Helper()
		l, err := s.Ledger(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if v := l.Audit(); len(v) > 0 {
			t.Errorf("audit: %v", v)
		}
		return l
	}
	balance := func(t *testing.T, s reward.Store) reward.Deltas {
		t.Helper()
		for _, b := range audit(t, s).Balances {
			if b.Account == acct {
				return b.Deltas
			}
		}
		return reward.Deltas{}
	}

	t.Run("apply, read back, version", func(t *testing.T) {
		s := newStore(t)
		apply(t, s, ev("e1"), plan(t, nil, in(reward.TargetPending, 500)))
		got, err := s.Commission(t.Context(), reward.FirstPromoter, "41")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != reward.Pending || got.Amount != 500 || got.Version != 1 || got.Account != acct || !got.UpdatedAt.Equal(at) {
			t.Errorf("stored %+v", got)
		}
		if b := balance(t, s); b != (reward.Deltas{Pending: 500}) {
			t.Errorf("balance %+v", b)
		}
		apply(t, s, ev("e2"), plan(t, &got, in(reward.TargetApproved, 500)))
		got, _ = s.Commission(t.Context(), reward.FirstPromoter, "41")
		if got.Status != reward.Approved || got.Version != 2 || got.Fulfilment != reward.Requested {
			t.Errorf("after approval %+v", got)
		}
		if b := balance(t, s); b != (reward.Deltas{Available: 500}) {
			t.Errorf("balance %+v", b)
		}
	})

	t.Run("missing items", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Commission(t.Context(), reward.FirstPromoter, "nope"); !errors.Is(err, reward.ErrNotFound) {
			t.Errorf("Commission: %v, want ErrNotFound", err)
		}
		if _, err := s.Payout(t.Context(), reward.AgentRef, "nope"); !errors.Is(err, reward.ErrNotFound) {
			t.Errorf("Payout: %v, want ErrNotFound", err)
		}
	})

	t.Run("an exact redelivery changes nothing", func(t *testing.T) {
		s := newStore(t)
		c := plan(t, nil, in(reward.TargetPending, 500))
		apply(t, s, ev("e1"), c)
		if err := s.Apply(t.Context(), ev("e1"), plan(t, nil, in(reward.TargetApproved, 500))); !errors.Is(err, reward.ErrDuplicateEvent) {
			t.Fatalf("Apply with a known event id: %v, want ErrDuplicateEvent", err)
		}
		if err := s.RecordEvent(t.Context(), ev("e9")); err != nil {
			t.Errorf("RecordEvent: %v", err)
		}
		if err := s.RecordEvent(t.Context(), ev("e9")); !errors.Is(err, reward.ErrDuplicateEvent) {
			t.Errorf("RecordEvent of a known event: %v", err)
		}
		if b := balance(t, s); b != (reward.Deltas{Pending: 500}) {
			t.Errorf("balance %+v after a redelivery", b)
		}
	})

	t.Run("redeliveries after a state change: the commission's event ids refuse them, planning again changes nothing", func(t *testing.T) {
		s := newStore(t)
		apply(t, s, ev("created"), plan(t, nil, in(reward.TargetPending, 500)))
		pending, _ := s.Commission(t.Context(), reward.FirstPromoter, "41")
		apply(t, s, ev("approved"), plan(t, &pending, in(reward.TargetApproved, 500)))
		approved, _ := s.Commission(t.Context(), reward.FirstPromoter, "41")
		// The approval again: planned on the old state, on the stored one
		// (where the planner calls it a duplicate, nothing to write) and
		// forced on the stored state as if it were new.
		for name, c := range map[string]reward.Change{
			"on the state it was planned on": plan(t, &pending, in(reward.TargetApproved, 500)),
			"on no state":                    plan(t, nil, in(reward.TargetApproved, 500)),
			"on the stored state":            {Outcome: reward.Applied, Before: &approved, After: approved},
		} {
			if err := s.Apply(t.Context(), ev("approved"), c); !errors.Is(err, reward.ErrDuplicateEvent) {
				t.Errorf("the approval redelivered %s: %v, want ErrDuplicateEvent", name, err)
			}
		}
		// The creation again, after the approval: refused by its id; planned
		// again from the stored state it is stale and writes nothing.
		if err := s.Apply(t.Context(), ev("created"), plan(t, nil, in(reward.TargetPending, 500))); !errors.Is(err, reward.ErrDuplicateEvent) {
			t.Errorf("the creation redelivered: %v, want ErrDuplicateEvent", err)
		}
		if c := plan(t, &approved, in(reward.TargetPending, 500)); c.Outcome != reward.Stale || len(c.Entries) != 0 {
			t.Errorf("the creation planned on the approved state: %s with %d entries, want stale with none", c.Outcome, len(c.Entries))
		}
		// Another event id of the same approval reaches the write only as a
		// plan on the old state: refused with the current one.
		var m *reward.Mismatch
		if err := s.Apply(t.Context(), ev("updated"), plan(t, &pending, in(reward.TargetApproved, 500))); !errors.As(err, &m) || m.Current == nil || m.Current.Status != reward.Approved {
			t.Errorf("the approval under another event id: %v, want the approved state", err)
		}
		got, _ := s.Commission(t.Context(), reward.FirstPromoter, "41")
		if got.Status != reward.Approved || got.Version != 2 {
			t.Errorf("after the redeliveries %+v, want approved at version 2", got)
		}
		if b := balance(t, s); b != (reward.Deltas{Available: 500}) {
			t.Errorf("balance %+v after the redeliveries, want 500 available once", b)
		}
		// Event ids belong to their commission: another commission applies
		// an event id of its own alike.
		other := in(reward.TargetPending, 300)
		other.CommissionID = "42"
		apply(t, s, ev("e42"), plan(t, nil, other))
	})

	t.Run("an event recorded as changing nothing is refused when it would change something later", func(t *testing.T) {
		s := newStore(t)
		apply(t, s, ev("created"), plan(t, nil, in(reward.TargetPending, 500)))
		again := ev("again")
		again.CommissionID = "41"
		if err := s.RecordEvent(t.Context(), again); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordEvent(t.Context(), again); !errors.Is(err, reward.ErrDuplicateEvent) {
			t.Errorf("RecordEvent of an event kept on its commission: %v, want ErrDuplicateEvent", err)
		}
		created := ev("created")
		created.CommissionID = "41"
		if err := s.RecordEvent(t.Context(), created); !errors.Is(err, reward.ErrDuplicateEvent) {
			t.Errorf("RecordEvent of an event the commission applied: %v, want ErrDuplicateEvent", err)
		}
		pending, _ := s.Commission(t.Context(), reward.FirstPromoter, "41")
		if pending.Version != 1 {
			t.Errorf("commission at version %d after events kept on it, want 1: keeping an event is no state change", pending.Version)
		}
		if err := s.Apply(t.Context(), ev("again"), plan(t, &pending, in(reward.TargetApproved, 500))); !errors.Is(err, reward.ErrDuplicateEvent) {
			t.Errorf("Apply of a recorded event: %v, want ErrDuplicateEvent", err)
		}
		if b := balance(t, s); b != (reward.Deltas{Pending: 500}) {
			t.Errorf("balance %+v, want 500 pending", b)
		}
	})

	t.Run("an event recorded while its commission did not exist applies when it comes again", func(t *testing.T) {
		s := newStore(t)
		early := ev("early")
		early.CommissionID = "41"
		if err := s.RecordEvent(t.Context(), early); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordEvent(t.Context(), early); !errors.Is(err, reward.ErrDuplicateEvent) {
			t.Errorf("RecordEvent again, the commission still absent: %v, want ErrDuplicateEvent", err)
		}
		apply(t, s, ev("early"), plan(t, nil, in(reward.TargetPending, 500)))
		if err := s.Apply(t.Context(), ev("early"), plan(t, nil, in(reward.TargetPending, 500))); !errors.Is(err, reward.ErrDuplicateEvent) {
			t.Errorf("Apply of the event once more: %v, want ErrDuplicateEvent", err)
		}
		if b := balance(t, s); b != (reward.Deltas{Pending: 500}) {
			t.Errorf("balance %+v, want 500 pending", b)
		}
	})

	t.Run("an event kept on its commission changes nothing else of it", func(t *testing.T) {
		s := newStore(t)
		apply(t, s, ev("created"), plan(t, nil, in(reward.TargetPending, 500)))
		pending, _ := s.Commission(t.Context(), reward.FirstPromoter, "41")
		apply(t, s, ev("approved"), plan(t, &pending, in(reward.TargetApproved, 500)))
		before, beforeEntries, err := s.History(t.Context(), reward.FirstPromoter, "41")
		if err != nil {
			t.Fatal(err)
		}
		kept := ev("approved again")
		kept.CommissionID = "41"
		if err := s.RecordEvent(t.Context(), kept); err != nil {
			t.Fatal(err)
		}
		after, afterEntries, err := s.History(t.Context(), reward.FirstPromoter, "41")
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", after) != fmt.Sprintf("%+v", before) {
			t.Errorf("commission after an event kept on it:\n%+v\nwant as before:\n%+v", after, before)
		}
		if len(afterEntries) != len(beforeEntries) {
			t.Errorf("%d entries after an event kept on the commission, want %d", len(afterEntries), len(beforeEntries))
		}
		out, err := s.Outbox(t.Context(), reward.FirstPromoter, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 1 || out[0].ID != "41" || out[0].Fulfilment != reward.Requested {
			t.Errorf("outbox after an event kept on the commission: %+v, want commission 41 requested", out)
		}
		if b := balance(t, s); b != (reward.Deltas{Available: 500}) {
			t.Errorf("balance %+v, want 500 available", b)
		}
	})

	t.Run("an event kept and applied at the same time is taken once", func(t *testing.T) {
		for round := range 5 {
			s := newStore(t)
			apply(t, s, ev("created"), plan(t, nil, in(reward.TargetPending, 500)))
			pending, _ := s.Commission(t.Context(), reward.FirstPromoter, "41")
			id := fmt.Sprintf("copy%d", round)
			kept := ev(id)
			kept.CommissionID = "41"
			approval := plan(t, &pending, in(reward.TargetApproved, 500))
			// Each side retries what the port calls transient, as the
			// processor's queue does.
			try := func(write func() error) (err error) {
				for range 50 {
					err = write()
					var mm *reward.Mismatch
					if err == nil || errors.Is(err, reward.ErrDuplicateEvent) || errors.As(err, &mm) {
						return err
					}
				}
				return err
			}
			var wg sync.WaitGroup
			var keepErr, applyErr error
			wg.Add(2)
			go func() {
				defer wg.Done()
				keepErr = try(func() error { return s.RecordEvent(context.Background(), kept) })
			}()
			go func() {
				defer wg.Done()
				applyErr = try(func() error { return s.Apply(context.Background(), ev(id), approval) })
			}()
			wg.Wait()
			if (keepErr == nil) == (applyErr == nil) {
				t.Fatalf("round %d: kept %v, applied %v: want exactly one to take the event", round, keepErr, applyErr)
			}
			got, _ := s.Commission(t.Context(), reward.FirstPromoter, "41")
			want, version := reward.Deltas{Pending: 500}, int64(1)
			if applyErr == nil {
				want, version = reward.Deltas{Available: 500}, 2
			}
			if b := balance(t, s); b != want || got.Version != version {
				t.Errorf("round %d: balance %+v at version %d, want %+v", round, b, got.Version, want)
			}
		}
	})

	t.Run("a change planned on an old state is refused with the current one", func(t *testing.T) {
		s := newStore(t)
		apply(t, s, ev("e1"), plan(t, nil, in(reward.TargetPending, 500)))
		err := s.Apply(t.Context(), ev("e2"), plan(t, nil, in(reward.TargetApproved, 500)))
		var m *reward.Mismatch
		if !errors.As(err, &m) || m.Current == nil || m.Current.Status != reward.Pending || m.Current.Amount != 500 || m.Current.Version != 1 {
			t.Fatalf("Apply on a stale assumption: %v (%+v)", err, m)
		}
		assumed := &reward.Commission{Provider: reward.FirstPromoter, ID: "41", Account: acct, Status: reward.Pending, Amount: 400}
		err = s.Apply(t.Context(), ev("e3"), plan(t, assumed, in(reward.TargetApproved, 400)))
		if !errors.As(err, &m) {
			t.Fatalf("Apply with the wrong amount assumed: %v", err)
		}
		gone := &reward.Commission{Provider: reward.FirstPromoter, ID: "42", Account: acct, Status: reward.Pending, Amount: 400}
		c := plan(t, gone, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "42", Target: reward.TargetApproved, Account: acct, Amount: 400, At: at})
		if err := s.Apply(t.Context(), ev("e4"), c); !errors.As(err, &m) || m.Current != nil {
			t.Fatalf("Apply assuming a commission that does not exist: %v", err)
		}
		// Nothing of the refused writes happened, not even the event records.
		if err := s.RecordEvent(t.Context(), ev("e2")); err != nil {
			t.Errorf("the event of a refused change was recorded: %v", err)
		}
		if b := balance(t, s); b != (reward.Deltas{Pending: 500}) {
			t.Errorf("balance %+v", b)
		}
	})

	t.Run("the account is part of the state a change is conditional on", func(t *testing.T) {
		s := newStore(t)
		moved := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter("13"), Unit: reward.Points}
		toMoved := func(i reward.Intent) reward.Intent { i.Account = moved; return i }
		apply(t, s, ev("a1"), plan(t, nil, in(reward.TargetPending, 500)))
		// The promoter changed on the platform before the approval: an
		// approval planned as if the credit were in the new account is
		// refused with the stored state...
		assumed := &reward.Commission{Provider: reward.FirstPromoter, ID: "41", Account: moved, Status: reward.Pending, Amount: 500}
		err := s.Apply(t.Context(), ev("a2"), plan(t, assumed, toMoved(in(reward.TargetApproved, 500))))
		var m *reward.Mismatch
		if !errors.As(err, &m) || m.Current == nil || m.Current.Account != acct {
			t.Fatalf("Apply planned for another account: %v, want *Mismatch with the stored account", err)
		}
		// ...and planned from it, the credit moves and posts in the new one.
		apply(t, s, ev("a2"), plan(t, m.Current, toMoved(in(reward.TargetApproved, 500))))
		got, entries, err := s.History(t.Context(), reward.FirstPromoter, "41")
		if err != nil || got.Account != moved || got.Status != reward.Approved || got.Moves != 1 || len(entries) != 4 {
			t.Fatalf("History: %+v, %d entries, %v", got, len(entries), err)
		}
		if b := balance(t, s); b != (reward.Deltas{}) {
			t.Errorf("the old account holds %+v", b)
		}
		for _, b := range audit(t, s).Balances {
			if b.Account == moved && b.Deltas != (reward.Deltas{Available: 500}) {
				t.Errorf("the new account holds %+v", b.Deltas)
			}
		}

		// A commission that moves away and back is in its first account
		// again, but a change planned before the moves is still refused.
		first := plan(t, nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "44", Target: reward.TargetPending, Account: acct, Amount: 300, At: at})
		apply(t, s, ev("b1"), first)
		away := plan(t, &first.After, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "44", Target: reward.TargetPending, Account: moved, Amount: 300, At: at})
		apply(t, s, ev("b2"), away)
		back := plan(t, &away.After, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "44", Target: reward.TargetPending, Account: acct, Amount: 300, At: at})
		apply(t, s, ev("b3"), back)
		late := plan(t, &first.After, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "44", Target: reward.TargetPending, Account: moved, Amount: 300, At: at})
		if err := s.Apply(t.Context(), ev("b4"), late); !errors.As(err, &m) || m.Current == nil || m.Current.Moves != 2 {
			t.Fatalf("Apply planned before two moves: %v, want *Mismatch with 2 moves", err)
		}
		if b := balance(t, s); b != (reward.Deltas{Pending: 300}) {
			t.Errorf("the first account holds %+v after the moves, want the pending credit", b)
		}
	})

	t.Run("an entry id with other content is a conflict and writes nothing", func(t *testing.T) {
		s := newStore(t)
		first := plan(t, nil, in(reward.TargetApproved, 500))
		apply(t, s, ev("e1"), first)
		other := reward.Intent{Provider: reward.FirstPromoter, CommissionID: "43", Target: reward.TargetApproved, Account: acct, Amount: 700, At: at}
		c := plan(t, nil, other)
		c.Entries[0].ID = first.Entries[0].ID
		if err := s.Apply(t.Context(), ev("e2"), c); !errors.Is(err, reward.ErrEntryConflict) {
			t.Fatalf("Apply: %v, want ErrEntryConflict", err)
		}
		if _, err := s.Commission(t.Context(), reward.FirstPromoter, "43"); !errors.Is(err, reward.ErrNotFound) {
			t.Errorf("the commission of a refused change was written: %v", err)
		}
		if b := balance(t, s); b != (reward.Deltas{Available: 500}) {
			t.Errorf("balance %+v", b)
		}
	})

	t.Run("outbox and acknowledgement", func(t *testing.T) {
		s := newStore(t)
		for i, id := range []string{"51", "52", "53"} {
			i := reward.Intent{Provider: reward.FirstPromoter, CommissionID: id, Target: reward.TargetApproved, Account: acct, Amount: 10, Acknowledge: true, At: at.Add(time.Duration(i) * time.Second)}
			apply(t, s, ev("e"+id), plan(t, nil, i))
		}
		apply(t, s, ev("e54"), plan(t, nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "54", Target: reward.TargetPending, Account: acct, Amount: 10, At: at}))
		out, err := s.Outbox(t.Context(), reward.FirstPromoter, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 3 || out[0].ID != "51" || out[2].ID != "53" {
			t.Fatalf("outbox %v, want 51, 52, 53 oldest first", ids(out))
		}
		if out, _ := s.Outbox(t.Context(), reward.FirstPromoter, 2); len(out) != 2 {
			t.Errorf("outbox limit 2 gave %d", len(out))
		}
		if out, _ := s.Outbox(t.Context(), reward.AgentRef, 10); len(out) != 0 {
			t.Errorf("agentref outbox %v", ids(out))
		}
		ack, err := reward.Acknowledge(out[0], "", at)
		if err != nil {
			t.Fatal(err)
		}
		apply(t, s, reward.EventRecord{}, ack)
		failed := out[1]
		failed.Fulfilment, failed.FulfilmentError = reward.Failed, "422 invalid_params"
		if err := s.SetFulfilment(t.Context(), failed, reward.Requested); err != nil {
			t.Fatal(err)
		}
		if err := s.SetFulfilment(t.Context(), failed, reward.Requested); !errors.As(err, new(*reward.Mismatch)) {
			t.Errorf("SetFulfilment from a state it is no longer in: %v, want *Mismatch", err)
		}
		got, _ := s.Commission(t.Context(), reward.FirstPromoter, "52")
		if got.Fulfilment != reward.Failed || got.FulfilmentError != "422 invalid_params" || got.Version != 2 {
			t.Errorf("after SetFulfilment: %+v", got)
		}
		out, _ = s.Outbox(t.Context(), reward.FirstPromoter, 10)
		if len(out) != 2 {
			t.Errorf("outbox after one acknowledgement %v, want 52 (failed) and 53", ids(out))
		}
		if b := balance(t, s); b != (reward.Deltas{Pending: 10, Available: 30, Fulfilled: 10}) {
			t.Errorf("balance %+v", b)
		}
	})

	t.Run("the outbox keeps each delivery's age and loses what is reversed or refused", func(t *testing.T) {
		s := newStore(t)
		deliver := func(id string, at time.Time) reward.Commission {
			t.Helper()
			apply(t, s, ev("e"+id), plan(t, nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: id, Target: reward.TargetApproved, Account: acct, Amount: 10, Acknowledge: true, At: at}))
			c, err := s.Commission(t.Context(), reward.FirstPromoter, id)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		first := deliver("61", at)
		second := deliver("62", at.Add(10*time.Minute))
		deliver("63", at.Add(20*time.Minute))
		// The first delivery's acknowledgement fails twice, an hour apart:
		// it stays the oldest.
		for i, from := range []reward.Fulfilment{reward.Requested, reward.Failed} {
			failed := first
			failed.Fulfilment, failed.FulfilmentError, failed.UpdatedAt = reward.Failed, "not confirmed", at.Add(time.Duration(i+1)*time.Hour)
			if err := s.SetFulfilment(t.Context(), failed, from); err != nil {
				t.Fatal(err)
			}
		}
		out, err := s.Outbox(t.Context(), reward.FirstPromoter, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(out); fmt.Sprint(got) != "[61 62 63]" || !out[0].RequestedAt.Equal(at) || out[0].Fulfilment != reward.Failed {
			t.Fatalf("outbox %v (first %+v), want 61, 62, 63, the first requested at %s", got, out[0], at)
		}
		// Reversed after a failed acknowledgement: out of the outbox in
		// the same write.
		cur := out[0]
		apply(t, s, ev("d61"), plan(t, &cur, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "61", EventID: "d61", Target: reward.TargetDenied, Account: acct, Amount: 10, At: at.Add(3 * time.Hour)}))
		// Refused by the platform: out of the outbox.
		refused := second
		refused.Fulfilment, refused.FulfilmentError, refused.UpdatedAt = reward.Refused, "payout missing", at.Add(3*time.Hour)
		if err := s.SetFulfilment(t.Context(), refused, reward.Requested); err != nil {
			t.Fatal(err)
		}
		if out, _ := s.Outbox(t.Context(), reward.FirstPromoter, 10); fmt.Sprint(ids(out)) != "[63]" {
			t.Errorf("outbox %v, want 63 alone", ids(out))
		}
		got, _ := s.Commission(t.Context(), reward.FirstPromoter, "61")
		if got.Status != reward.Reversed || got.Fulfilment != reward.Withdrawn || got.FulfilmentError != "" || !got.RequestedAt.Equal(at) {
			t.Errorf("reversed before its acknowledgement: %+v", got)
		}
		got, _ = s.Commission(t.Context(), reward.FirstPromoter, "62")
		if got.Fulfilment != reward.Refused || got.FulfilmentError != "payout missing" || !got.RequestedAt.Equal(second.RequestedAt) {
			t.Errorf("refused: %+v", got)
		}
		if b := balance(t, s); b != (reward.Deltas{Available: 20, Reversed: 10}) {
			t.Errorf("balance %+v", b)
		}
	})

	t.Run("a change that writes the fulfilment must find it as planned", func(t *testing.T) {
		s := newStore(t)
		apply(t, s, ev("e71"), plan(t, nil, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "71", Target: reward.TargetApproved, Account: acct, Amount: 10, Acknowledge: true, At: at}))
		read, _ := s.Commission(t.Context(), reward.FirstPromoter, "71")
		// The platform's acknowledgement is recorded after the read...
		ack, err := reward.Acknowledge(read, "", at.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		apply(t, s, reward.EventRecord{}, ack)
		// ...so a reversal planned from the read may not withdraw it.
		reversal := plan(t, &read, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "71", EventID: "d71", Target: reward.TargetDenied, Account: acct, Amount: 10, At: at.Add(2 * time.Minute)})
		var m *reward.Mismatch
		if err := s.Apply(t.Context(), ev("d71"), reversal); !errors.As(err, &m) || m.Current == nil || m.Current.Fulfilment != reward.Acknowledged {
			t.Fatalf("Apply over a fulfilment that moved: %v, want *Mismatch with the acknowledgement", err)
		}
		apply(t, s, ev("d71"), plan(t, m.Current, reward.Intent{Provider: reward.FirstPromoter, CommissionID: "71", EventID: "d71", Target: reward.TargetDenied, Account: acct, Amount: 10, At: at.Add(2 * time.Minute)}))
		got, _ := s.Commission(t.Context(), reward.FirstPromoter, "71")
		if got.Status != reward.Reversed || got.Fulfilment != reward.Acknowledged {
			t.Errorf("after the reversal: %+v", got)
		}
		if b := balance(t, s); b != (reward.Deltas{Reversed: 10, Fulfilled: 10}) {
			t.Errorf("balance %+v", b)
		}
	})

	t.Run("batches", func(t *testing.T) {
		s := newStore(t)
		for i, id := range []string{"b2", "b1"} {
			if err := s.RecordBatch(t.Context(), reward.Batch{Provider: reward.FirstPromoter, ID: id, CommissionIDs: []string{"1", "2"}, At: at.Add(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Batches(t.Context(), reward.FirstPromoter)
		if err != nil || len(got) != 2 || got[0].ID != "b2" || len(got[1].CommissionIDs) != 2 {
			t.Errorf("Batches: %+v %v", got, err)
		}
		if got, _ := s.Batches(t.Context(), reward.AgentRef); len(got) != 0 {
			t.Errorf("agentref batches: %+v", got)
		}
		if err := s.DeleteBatch(t.Context(), got[0]); err != nil {
			t.Fatal(err)
		}
		if left, _ := s.Batches(t.Context(), reward.FirstPromoter); len(left) != 1 || left[0].ID != "b1" {
			t.Errorf("after deleting b2: %+v", left)
		}
	})

	t.Run("cursors and runs", func(t *testing.T) {
		s := newStore(t)
		if c, err := s.Cursor(t.Context(), "fp:approved"); err != nil || c != "" {
			t.Errorf("unset cursor: %q %v", c, err)
		}
		if err := s.SetCursor(t.Context(), "fp:approved", "3"); err != nil {
			t.Fatal(err)
		}
		if c, _ := s.Cursor(t.Context(), "fp:approved"); c != "3" {
			t.Errorf("cursor %q, want 3", c)
		}
		for i := range 3 {
			r := reward.Run{ID: fmt.Sprint(i), Started: at.Add(time.Duration(i) * time.Minute), Finished: at.Add(time.Duration(i)*time.Minute + time.Second), Complete: i != 1,
				Counts: map[string]int{"delivered": i}, Drift: []reward.Drift{{Provider: reward.FirstPromoter, CommissionID: "9", Problem: "p"}}}
			if err := s.RecordRun(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		}
		runs, err := s.Runs(t.Context(), 2)
		if err != nil || len(runs) != 2 || runs[0].ID != "2" || runs[1].Complete || runs[0].Counts["delivered"] != 2 || len(runs[0].Drift) != 1 {
			t.Errorf("Runs: %+v %v", runs, err)
		}
	})

	t.Run("history", func(t *testing.T) {
		s := newStore(t)
		c := plan(t, nil, in(reward.TargetPending, 500))
		apply(t, s, ev("h1"), c)
		approve := plan(t, &c.After, in(reward.TargetApproved, 500))
		apply(t, s, ev("h2"), approve)
		got, entries, err := s.History(t.Context(), reward.FirstPromoter, "41")
		if err != nil || got.Status != reward.Approved || len(entries) != 2 || entries[0].Kind != reward.KindPending || entries[1].Kind != reward.KindPost {
			t.Errorf("History: %+v %+v %v", got, entries, err)
		}
		if _, _, err := s.History(t.Context(), reward.FirstPromoter, "404"); !errors.Is(err, reward.ErrNotFound) {
			t.Errorf("History of nothing: %v", err)
		}
	})

	t.Run("history of commissions whose ids hold the entry separator", func(t *testing.T) {
		s := newStore(t)
		for _, id := range []string{"41", "41#pending", "41#x#post", "41%23x"} {
			i := in(reward.TargetApproved, 500)
			i.CommissionID = id
			apply(t, s, reward.EventRecord{}, plan(t, nil, i))
		}
		audit(t, s)
		for _, id := range []string{"41", "41#pending", "41#x#post", "41%23x"} {
			c, entries, err := s.History(t.Context(), reward.FirstPromoter, id)
			if err != nil || c.ID != id || len(entries) != 1 || entries[0].Subject != "commission:"+id {
				t.Errorf("History of %q: %+v %+v %v", id, c, entries, err)
			}
		}
	})

	t.Run("holds", func(t *testing.T) {
		s := newStore(t)
		a1 := reward.Affiliate("a1")
		hev := func(id string) reward.EventRecord {
			return reward.EventRecord{Provider: reward.AgentRef, ID: id, ExpiresAt: at.Add(time.Hour)}
		}
		hold := func(held bool, minutes int) reward.Hold {
			return reward.Hold{Provider: reward.AgentRef, Recipient: a1, Held: held, At: at.Add(time.Duration(minutes) * time.Minute)}
		}
		isHeld := func() bool {
			t.Helper()
			held, err := s.Held(t.Context(), reward.AgentRef, a1)
			if err != nil {
				t.Fatal(err)
			}
			return held
		}
		if isHeld() {
			t.Fatal("held before any event")
		}
		if err := s.SetHold(t.Context(), hev("h1"), hold(true, 0)); err != nil {
			t.Fatal(err)
		}
		if !isHeld() {
			t.Error("not held after a hold")
		}
		if err := s.SetHold(t.Context(), hev("h1"), hold(false, 5)); !errors.Is(err, reward.ErrDuplicateEvent) {
			t.Errorf("SetHold with a known event: %v", err)
		}
		if err := s.SetHold(t.Context(), hev("h2"), hold(false, 1)); err != nil {
			t.Fatal(err)
		}
		if isHeld() {
			t.Error("still held after release")
		}
		if got, err := s.Holds(t.Context(), reward.AgentRef); err != nil || len(got) != 1 || got[0] != hold(false, 1) {
			t.Errorf("Holds: %+v %v, want the release", got, err)
		}
	})

	t.Run("a posting planned with its recipient's hold is written only while the hold is as planned", func(t *testing.T) {
		s := newStore(t)
		a1 := reward.Affiliate("a1")
		arAcct := reward.Account{Provider: reward.AgentRef, Recipient: a1, Unit: reward.Cash, Currency: "usd"}
		conv := func(target reward.Target, held bool) reward.Intent {
			return reward.Intent{Provider: reward.AgentRef, CommissionID: "c1", Target: target, Account: arAcct, Amount: 700, Held: held, HoldKnown: true, At: at}
		}
		hold := func(id string, held bool, minutes int) {
			t.Helper()
			ev := reward.EventRecord{Provider: reward.AgentRef, ID: id, ExpiresAt: at.Add(time.Hour)}
			if err := s.SetHold(t.Context(), ev, reward.Hold{Provider: reward.AgentRef, Recipient: a1, Held: held, At: at.Add(time.Duration(minutes) * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		arBalance := func() reward.Deltas {
			t.Helper()
			for _, b := range audit(t, s).Balances {
				if b.Account == arAcct {
					return b.Deltas
				}
			}
			return reward.Deltas{}
		}
		apply(t, s, reward.EventRecord{}, plan(t, nil, reward.Intent{Provider: reward.AgentRef, CommissionID: "c1", Target: reward.TargetPending, Account: arAcct, Amount: 700, At: at}))
		pending, _ := s.Commission(t.Context(), reward.AgentRef, "c1")
		// Planned unheld (no hold item), blocked before the write.
		post := plan(t, &pending, conv(reward.TargetApproved, false))
		hold("block", true, 1)
		if err := s.Apply(t.Context(), reward.EventRecord{}, post); !errors.Is(err, reward.ErrHoldChanged) {
			t.Fatalf("a posting planned before a block: %v, want ErrHoldChanged", err)
		}
		if b := arBalance(); b != (reward.Deltas{Pending: 700}) {
			t.Errorf("balance %+v after the refused posting, want 700 still pending", b)
		}
		// Planned held, released before the write.
		heldBack := plan(t, &pending, conv(reward.TargetApproved, true))
		hold("release", false, 2)
		if err := s.Apply(t.Context(), reward.EventRecord{}, heldBack); !errors.Is(err, reward.ErrHoldChanged) {
			t.Fatalf("an approval held back after a release: %v, want ErrHoldChanged", err)
		}
		// Planned with the hold as it is: written.
		apply(t, s, reward.EventRecord{}, plan(t, &pending, conv(reward.TargetApproved, false)))
		if b := arBalance(); b != (reward.Deltas{Available: 700}) {
			t.Errorf("balance %+v, want 700 available", b)
		}
	})

	t.Run("a hold changes only for a newer one", func(t *testing.T) {
		s := newStore(t)
		a1 := reward.Affiliate("a1")
		hev := func(id string) reward.EventRecord {
			return reward.EventRecord{Provider: reward.AgentRef, ID: id, ExpiresAt: at.Add(time.Hour)}
		}
		released := reward.Hold{Provider: reward.AgentRef, Recipient: a1, Held: false, At: at.Add(time.Minute)}
		blocked := reward.Hold{Provider: reward.AgentRef, Recipient: a1, Held: true, At: at}
		// unblocked (12:01) is applied before the retried blocked (12:00).
		if err := s.SetHold(t.Context(), hev("unblocked"), released); err != nil {
			t.Fatal(err)
		}
		if err := s.SetHold(t.Context(), hev("blocked"), blocked); !errors.Is(err, reward.ErrOutdated) {
			t.Fatalf("an older hold: %v, want ErrOutdated", err)
		}
		same := blocked
		same.At = released.At
		if err := s.SetHold(t.Context(), reward.EventRecord{}, same); !errors.Is(err, reward.ErrOutdated) {
			t.Errorf("a hold as old as the stored one: %v, want ErrOutdated", err)
		}
		if held, _ := s.Held(t.Context(), reward.AgentRef, a1); held {
			t.Error("held after an older blocked event")
		}
		// Nothing of the refused write was kept, not even its event.
		if err := s.RecordEvent(t.Context(), hev("blocked")); err != nil {
			t.Errorf("the event of a refused hold was recorded: %v", err)
		}
		// Newer holds apply, with or without an event.
		later := reward.Hold{Provider: reward.AgentRef, Recipient: a1, Held: true, At: at.Add(time.Hour)}
		if err := s.SetHold(t.Context(), reward.EventRecord{}, later); err != nil {
			t.Fatal(err)
		}
		if held, _ := s.Held(t.Context(), reward.AgentRef, a1); !held {
			t.Error("not held after a newer hold")
		}
		other := reward.Hold{Provider: reward.AgentRef, Recipient: reward.Affiliate("a2"), Held: true, At: at}
		if err := s.SetHold(t.Context(), reward.EventRecord{}, other); err != nil {
			t.Fatal(err)
		}
		got, err := s.Holds(t.Context(), reward.AgentRef)
		sort.Slice(got, func(i, j int) bool { return got[i].Recipient < got[j].Recipient })
		if err != nil || len(got) != 2 || got[0] != later || got[1] != other {
			t.Errorf("Holds: %+v %v, want a1's and a2's newest", got, err)
		}
		if got, _ := s.Holds(t.Context(), reward.FirstPromoter); len(got) != 0 {
			t.Errorf("firstpromoter holds: %+v", got)
		}
	})

	t.Run("payouts", func(t *testing.T) {
		s := newStore(t)
		aff := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}
		pi := reward.PayoutIntent{Provider: reward.AgentRef, PayoutID: "p1", Account: aff, Amount: 900, Status: reward.PayoutCompleted, At: at}
		c, err := reward.PlanPayout(nil, pi)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ApplyPayout(t.Context(), reward.EventRecord{Provider: reward.AgentRef, ID: "p-e1", ExpiresAt: at}, c); err != nil {
			t.Fatal(err)
		}
		if err := s.ApplyPayout(t.Context(), reward.EventRecord{Provider: reward.AgentRef, ID: "p-e2", ExpiresAt: at}, c); !errors.As(err, new(*reward.PayoutMismatch)) {
			t.Errorf("payout applied twice from the same state: %v", err)
		}
		got, err := s.Payout(t.Context(), reward.AgentRef, "p1")
		if err != nil || got.Status != reward.PayoutCompleted || got.Attempts != 1 || got.Amount != 900 {
			t.Errorf("payout %+v %v", got, err)
		}
		pi.Status = reward.PayoutFailed
		f, _ := reward.PlanPayout(&got, pi)
		if err := s.ApplyPayout(t.Context(), reward.EventRecord{Provider: reward.AgentRef, ID: "p-e3", ExpiresAt: at}, f); err != nil {
			t.Fatal(err)
		}
		l := audit(t, s)
		for _, b := range l.Balances {
			if b.Account == aff && b.Deltas != (reward.Deltas{}) {
				t.Errorf("payout and its failure left %+v", b.Deltas)
			}
		}
	})

	t.Run("payouts: the status time is kept and a newer one refuses an older plan", func(t *testing.T) {
		s := newStore(t)
		aff := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate("a1"), Unit: reward.Cash, Currency: "usd"}
		failed := reward.PayoutIntent{Provider: reward.AgentRef, PayoutID: "p1", Account: aff, Amount: 900, Status: reward.PayoutFailed, StatusAt: at.Add(time.Minute), At: at}
		f, err := reward.PlanPayout(nil, failed)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ApplyPayout(t.Context(), reward.EventRecord{}, f); err != nil {
			t.Fatal(err)
		}
		got, err := s.Payout(t.Context(), reward.AgentRef, "p1")
		if err != nil || got.Status != reward.PayoutFailed || !got.StatusAt.Equal(failed.StatusAt) {
			t.Fatalf("payout %+v %v, want failed at %s", got, err, failed.StatusAt)
		}
		// Two retries planned from the stored state: the later one is
		// written first, and the earlier one must then be refused, not
		// move the payout's time back.
		retry := failed
		retry.Status = reward.PayoutCompleted
		retry.StatusAt = at.Add(2 * time.Minute)
		first, _ := reward.PlanPayout(&got, retry)
		again := failed
		again.StatusAt = at.Add(3 * time.Minute)
		later, _ := reward.PlanPayout(&got, again)
		if err := s.ApplyPayout(t.Context(), reward.EventRecord{}, later); err != nil {
			t.Fatal(err)
		}
		var mm *reward.PayoutMismatch
		if err := s.ApplyPayout(t.Context(), reward.EventRecord{}, first); !errors.As(err, &mm) || mm.Current == nil || !mm.Current.StatusAt.Equal(again.StatusAt) {
			t.Fatalf("a plan from an older status time: %v, want *PayoutMismatch with the stored payout", err)
		}
		if c, _ := reward.PlanPayout(mm.Current, retry); c.Outcome != reward.Stale {
			t.Errorf("replanned from the stored payout: %s, want stale", c.Outcome)
		}
		audit(t, s)
	})

	t.Run("concurrent writers: exactly one applies", func(t *testing.T) {
		s := newStore(t)
		apply(t, s, ev("e0"), plan(t, nil, in(reward.TargetPending, 500)))
		cur, _ := s.Commission(t.Context(), reward.FirstPromoter, "41")
		c := plan(t, &cur, in(reward.TargetApproved, 500))
		var wg sync.WaitGroup
		var mu sync.Mutex
		applied, refused := 0, 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := applyRetrying(t.Context(), s, ev(fmt.Sprintf("race-%d", i)), c)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					applied++
				case errors.As(err, new(*reward.Mismatch)):
					refused++
				default:
					t.Errorf("Apply: %v", err)
				}
			}()
		}
		wg.Wait()
		if applied != 1 || refused != 7 {
			t.Errorf("applied %d, refused %d; want 1 and 7", applied, refused)
		}
		if b := balance(t, s); b != (reward.Deltas{Available: 500}) {
			t.Errorf("balance %+v", b)
		}
	})
}

// applyRetrying retries ErrConflict, as the processor does.
func applyRetrying(ctx context.Context, s reward.Store, ev reward.EventRecord, c reward.Change) error {
	for {
		err := s.Apply(ctx, ev, c)
		if !errors.Is(err, reward.ErrConflict) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ids(cs []reward.Commission) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}
