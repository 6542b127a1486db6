package relay

import (
	"context"
	"errors"
	"sync"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Actions are the writes of one reconciler run: made, or with a dry run
// only planned.
type Actions struct {
	mu sync.Mutex
	// Changes are the ledger changes, in order.
	Changes []reward.Change
	// Payouts are the payout changes.
	Payouts []reward.PayoutChange
	// Acknowledge and Approve are the commissions their platform was
	// told were delivered, and asked to approve.
	Acknowledge []CommissionRef
	Approve     []CommissionRef
	// Unfulfil are the commissions their platform was told of failed
	// deliveries.
	Unfulfil []CommissionRef
}

// CommissionRef names a commission of a platform.
type CommissionRef struct {
	Provider reward.Provider
	ID       string
}

// refs names ids of provider's commissions.
func refs(provider reward.Provider, ids []string) []CommissionRef {
	out := make([]CommissionRef, len(ids))
	for i, id := range ids {
		out[i] = CommissionRef{Provider: provider, ID: id}
	}
	return out
}

// planned is the last state planned for a commission.
func (a *Actions) planned(p reward.Provider, id string) (reward.Commission, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.Changes) - 1; i >= 0; i-- {
		if c := a.Changes[i].After; c.Provider == p && c.ID == id {
			return c, true
		}
	}
	return reward.Commission{}, false
}

func (a *Actions) add(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f()
}

// Observed returns a copy of rc whose ledger writes and platform actions
// collect in the returned Actions. With dry set the copy reads the ledger
// and the platforms as rc does but writes nothing: no ledger change, event,
// cursor or run summary, no acknowledgement, failed delivery told or
// approval; its outbox includes the deliveries it planned, as the real
// run's would.
func (rc *Reconciler) Observed(dry bool) (*Reconciler, *Actions) {
	acts := &Actions{}
	p := *rc.Processor
	p.Store = &observedStore{Store: p.Store, acts: acts, dry: dry}
	if dry {
		// The reconciler acknowledges through its own client; the
		// processor's platforms are used only by Process, which a run
		// never calls.
		p.Platforms = nil
	}
	obs := *rc
	obs.Processor = &p
	obs.dry = dry
	obs.acts = acts
	return &obs, acts
}

// observedStore records the changes; dry, it makes no write at all.
type observedStore struct {
	reward.Store
	acts *Actions
	dry  bool
}

func (s *observedStore) Apply(ctx context.Context, ev reward.EventRecord, c reward.Change) error {
	if !s.dry {
		if err := s.Store.Apply(ctx, ev, c); err != nil {
			return err
		}
		s.acts.add(func() { s.acts.Changes = append(s.acts.Changes, c) })
		return nil
	}
	// The store's condition, against what the run has planned so far: the
	// processor plans from an assumed state and re-plans on a mismatch.
	cur, err := s.Commission(ctx, c.After.Provider, c.After.ID)
	var curp *reward.Commission
	switch {
	case err == nil:
		curp = &cur
	case !errors.Is(err, reward.ErrNotFound):
		return err
	}
	if !reward.SameState(curp, c.Before) {
		return &reward.Mismatch{Current: curp}
	}
	if !reward.FulfilmentHolds(curp, c) {
		return &reward.Mismatch{Current: curp}
	}
	if !c.FulfilmentChanged && curp != nil {
		c.After = c.After.KeepFulfilment(cur)
	}
	s.acts.add(func() { s.acts.Changes = append(s.acts.Changes, c) })
	return nil
}

func (s *observedStore) ApplyPayout(ctx context.Context, ev reward.EventRecord, c reward.PayoutChange) error {
	if !s.dry {
		if err := s.Store.ApplyPayout(ctx, ev, c); err != nil {
			return err
		}
	} else {
		cur, err := s.Payout(ctx, c.After.Provider, c.After.ID)
		var curp *reward.Payout
		switch {
		case err == nil:
			curp = &cur
		case !errors.Is(err, reward.ErrNotFound):
			return err
		}
		if !reward.SamePayoutState(curp, c.Before) {
			return &reward.PayoutMismatch{Current: curp}
		}
	}
	s.acts.add(func() { s.acts.Payouts = append(s.acts.Payouts, c) })
	return nil
}

// Commission is, on a dry run, the state the run planned for it last.
func (s *observedStore) Commission(ctx context.Context, p reward.Provider, id string) (reward.Commission, error) {
	if s.dry {
		if c, ok := s.acts.planned(p, id); ok {
			return c, nil
		}
	}
	return s.Store.Commission(ctx, p, id)
}

// Payout is, on a dry run, the state the run planned for it last.
func (s *observedStore) Payout(ctx context.Context, p reward.Provider, id string) (reward.Payout, error) {
	if s.dry {
		s.acts.mu.Lock()
		defer s.acts.mu.Unlock()
		for i := len(s.acts.Payouts) - 1; i >= 0; i-- {
			if po := s.acts.Payouts[i].After; po.Provider == p && po.ID == id {
				return po, nil
			}
		}
	}
	return s.Store.Payout(ctx, p, id)
}

// Outbox adds, on a dry run, the deliveries it planned: the real run would
// acknowledge them too.
func (s *observedStore) Outbox(ctx context.Context, p reward.Provider, limit int) ([]reward.Commission, error) {
	out, err := s.Store.Outbox(ctx, p, limit)
	if err != nil || !s.dry {
		return out, err
	}
	s.acts.mu.Lock()
	defer s.acts.mu.Unlock()
	planned := map[string]reward.Commission{}
	for _, c := range s.acts.Changes {
		if c.After.Provider == p {
			planned[c.After.ID] = c.After
		}
	}
	var merged []reward.Commission
	for _, c := range out {
		if _, ok := planned[c.ID]; !ok {
			merged = append(merged, c)
		}
	}
	for _, c := range s.acts.Changes {
		if latest := planned[c.After.ID]; c.After.Provider == p && latest == c.After && latest.Fulfilment.Outstanding() {
			merged = append(merged, latest)
		}
	}
	return merged[:min(len(merged), limit)], nil
}

// write runs a write unless the run is dry.
func (s *observedStore) write(f func() error) error {
	if s.dry {
		return nil
	}
	return f()
}

func (s *observedStore) RecordEvent(ctx context.Context, ev reward.EventRecord) error {
	return s.write(func() error { return s.Store.RecordEvent(ctx, ev) })
}
func (s *observedStore) SetHold(ctx context.Context, ev reward.EventRecord, h reward.Hold) error {
	return s.write(func() error { return s.Store.SetHold(ctx, ev, h) })
}
func (s *observedStore) SetFulfilment(ctx context.Context, c reward.Commission, from reward.Fulfilment) error {
	return s.write(func() error { return s.Store.SetFulfilment(ctx, c, from) })
}
func (s *observedStore) RecordBatch(ctx context.Context, b reward.Batch) error {
	return s.write(func() error { return s.Store.RecordBatch(ctx, b) })
}
func (s *observedStore) DeleteBatch(ctx context.Context, b reward.Batch) error {
	return s.write(func() error { return s.Store.DeleteBatch(ctx, b) })
}
func (s *observedStore) SetCursor(ctx context.Context, name, value string) error {
	return s.write(func() error { return s.Store.SetCursor(ctx, name, value) })
}
func (s *observedStore) RecordRun(ctx context.Context, r reward.Run) error {
	return s.write(func() error { return s.Store.RecordRun(ctx, r) })
}
