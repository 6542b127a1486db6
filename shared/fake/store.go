// Package fake holds working in-memory implementations of the domain's
// ports, for handler unit tests, and the contract suites that every
// implementation (these fakes and the real adapters) must pass.
package fake

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Store is an in-memory reward.Store with the same atomicity and
// conditions as the DynamoDB one.
type Store struct {
	mu          sync.Mutex
	events      map[string]reward.EventRecord
	commissions map[string]reward.Commission
	// applied holds, per commission, the ids of the events applied to it
	// or kept on it as changing nothing.
	applied     map[string]map[string]bool
	payouts     map[string]reward.Payout
	entries     map[string]reward.Entry
	balances    map[reward.Account]reward.Deltas
	holds       map[string]reward.Hold
	batches     map[string]reward.Batch
	cursors     map[string]string
	runs        []reward.Run
	failures    map[string]reward.MessageFailure
	redemptions map[string]reward.Redemption
	// Fail, when set, is returned by the next write instead of writing.
	Fail error
	// Writes counts write calls, as DynamoDB would count requests.
	Writes int
}

var _ reward.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		events:      map[string]reward.EventRecord{},
		commissions: map[string]reward.Commission{},
		applied:     map[string]map[string]bool{},
		payouts:     map[string]reward.Payout{},
		entries:     map[string]reward.Entry{},
		balances:    map[reward.Account]reward.Deltas{},
		holds:       map[string]reward.Hold{},
		batches:     map[string]reward.Batch{},
		cursors:     map[string]string{},
	}
}

func key(p reward.Provider, id string) string { return string(p) + "#" + id }

func (s *Store) fail() error {
	s.Writes++
	if err := s.Fail; err != nil {
		s.Fail = nil
		return err
	}
	return nil
}

// checkEntries returns ErrEntryConflict for an existing id with other
// content, and reports whether every entry already exists identically.
func (s *Store) checkEntries(entries []reward.Entry) error {
	for _, e := range entries {
		if old, ok := s.entries[e.ID]; ok {
			if !old.SameContent(e) {
				return fmt.Errorf("entry %s: %w", e.ID, reward.ErrEntryConflict)
			}
			return fmt.Errorf("entry %s exists: %w", e.ID, reward.ErrEntryConflict)
		}
	}
	return nil
}

func (s *Store) writeEntries(entries []reward.Entry) {
	for _, e := range entries {
		s.entries[e.ID] = e
		s.balances[e.Account] = s.balances[e.Account].Add(e.Deltas)
	}
}

// seen reports whether ev (when it has an id) was recorded before.
func (s *Store) seen(ev reward.EventRecord) bool {
	_, ok := s.events[key(ev.Provider, ev.ID)]
	return ev.ID != "" && ok
}

// admit fails with an injected fault, or ErrDuplicateEvent for an event
// already recorded: what every event write checks first (lock held).
func (s *Store) admit(ev reward.EventRecord) error {
	if err := s.fail(); err != nil {
		return err
	}
	if s.seen(ev) {
		return reward.ErrDuplicateEvent
	}
	return nil
}

// Apply keeps the event id with the commission it changed, as the
// DynamoDB store does: an id the commission has applied, or kept as an
// event that changed nothing, is refused; a record of its own is not
// looked at.
func (s *Store) Apply(_ context.Context, ev reward.EventRecord, c reward.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail(); err != nil {
		return err
	}
	k := key(c.After.Provider, c.After.ID)
	if ev.ID != "" && s.applied[k][ev.ID] {
		return reward.ErrDuplicateEvent
	}
	cur, ok := s.commissions[k]
	var curp *reward.Commission
	if ok {
		curp = &cur
	}
	if !reward.SameState(curp, c.Before) {
		return &reward.Mismatch{Current: curp}
	}
	if !reward.FulfilmentHolds(curp, c) {
		return &reward.Mismatch{Current: curp}
	}
	if h := c.Hold; h != nil && s.holds[key(h.Provider, string(h.Recipient))].Held != h.Held {
		return reward.ErrHoldChanged
	}
	if err := s.checkEntries(c.Entries); err != nil {
		return err
	}
	if err := s.covers(c); err != nil {
		return err
	}
	if ev.ID != "" {
		s.keep(k, ev.ID)
	}
	after := c.After
	after.Version = cur.Version + 1
	switch {
	case !c.FulfilmentChanged && ok:
		// Only some changes write the fulfilment fields: the planned state
		// may be an assumption that did not know them.
		after = after.KeepFulfilment(cur)
	case ok && !cur.RequestedAt.IsZero() && (after.RequestedAt.IsZero() || reward.SameLane(cur.Fulfilment, after.Fulfilment)):
		after.RequestedAt = cur.RequestedAt
	}
	s.commissions[k] = after
	s.writeEntries(c.Entries)
	return nil
}

// keep adds an event id to the ids commission k has applied or kept (lock
// held).
func (s *Store) keep(k, id string) {
	if s.applied[k] == nil {
		s.applied[k] = map[string]bool{}
	}
	s.applied[k][id] = true
}

func (s *Store) ApplyPayout(_ context.Context, ev reward.EventRecord, c reward.PayoutChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.admit(ev); err != nil {
		return err
	}
	k := key(c.After.Provider, c.After.ID)
	cur, ok := s.payouts[k]
	var curp *reward.Payout
	if ok {
		curp = &cur
	}
	if !reward.SamePayoutState(curp, c.Before) {
		return &reward.PayoutMismatch{Current: curp}
	}
	if err := s.checkEntries(c.Entries); err != nil {
		return err
	}
	if ev.ID != "" {
		s.events[key(ev.Provider, ev.ID)] = ev
	}
	after := c.After
	after.Version = cur.Version + 1
	s.payouts[k] = after
	s.writeEntries(c.Entries)
	return nil
}

func (s *Store) RecordEvent(_ context.Context, ev reward.EventRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail(); err != nil {
		return err
	}
	if k := key(ev.Provider, ev.CommissionID); ev.CommissionID != "" {
		if _, ok := s.commissions[k]; ok {
			if s.applied[k][ev.ID] {
				return reward.ErrDuplicateEvent
			}
			s.keep(k, ev.ID)
			return nil
		}
	}
	if s.seen(ev) {
		return reward.ErrDuplicateEvent
	}
	s.events[key(ev.Provider, ev.ID)] = ev
	return nil
}

func (s *Store) SetHold(_ context.Context, ev reward.EventRecord, h reward.Hold) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.admit(ev); err != nil {
		return err
	}
	k := key(h.Provider, string(h.Recipient))
	if old, ok := s.holds[k]; ok && !h.Supersedes(&old) {
		return fmt.Errorf("hold %s: %w", h.Recipient, reward.ErrOutdated)
	}
	if ev.ID != "" {
		s.events[key(ev.Provider, ev.ID)] = ev
	}
	s.holds[k] = h
	return nil
}

func (s *Store) Held(_ context.Context, p reward.Provider, r reward.Recipient) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holds[key(p, string(r))].Held, nil
}

func (s *Store) Holds(_ context.Context, p reward.Provider) ([]reward.Hold, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []reward.Hold
	for _, h := range s.holds {
		if h.Provider == p {
			out = append(out, h)
		}
	}
	return out, nil
}

func (s *Store) Commission(_ context.Context, p reward.Provider, id string) (reward.Commission, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.commissions[key(p, id)]
	if !ok {
		return reward.Commission{}, fmt.Errorf("commission %s/%s: %w", p, id, reward.ErrNotFound)
	}
	return c, nil
}

func (s *Store) Payout(_ context.Context, p reward.Provider, id string) (reward.Payout, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.payouts[key(p, id)]
	if !ok {
		return reward.Payout{}, fmt.Errorf("payout %s/%s: %w", p, id, reward.ErrNotFound)
	}
	return c, nil
}

func (s *Store) SetFulfilment(_ context.Context, c reward.Commission, from reward.Fulfilment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail(); err != nil {
		return err
	}
	k := key(c.Provider, c.ID)
	cur, ok := s.commissions[k]
	if !ok || cur.Fulfilment != from || cur.Undelivered != c.Undelivered || cur.Undeliveries != c.Undeliveries {
		if !ok {
			return &reward.Mismatch{}
		}
		return &reward.Mismatch{Current: &cur}
	}
	cur.Fulfilment, cur.FulfilmentBatch, cur.FulfilmentError = c.Fulfilment, c.FulfilmentBatch, c.FulfilmentError
	cur.UpdatedAt = c.UpdatedAt
	cur.Version++
	s.commissions[k] = cur
	return nil
}

func (s *Store) RecordBatch(_ context.Context, b reward.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail(); err != nil {
		return err
	}
	s.batches[key(b.Provider, b.ID)] = b
	return nil
}

func (s *Store) Batches(_ context.Context, p reward.Provider) ([]reward.Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []reward.Batch
	for _, b := range s.batches {
		if b.Provider == p {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].At.Before(out[j].At) || out[i].At.Equal(out[j].At) && out[i].ID < out[j].ID
	})
	return out, nil
}

func (s *Store) DeleteBatch(_ context.Context, b reward.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail(); err != nil {
		return err
	}
	delete(s.batches, key(b.Provider, b.ID))
	return nil
}

func (s *Store) Cursor(_ context.Context, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursors[name], nil
}

func (s *Store) SetCursor(_ context.Context, name, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail(); err != nil {
		return err
	}
	s.cursors[name] = value
	return nil
}

func (s *Store) RecordRun(_ context.Context, r reward.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail(); err != nil {
		return err
	}
	s.runs = append(s.runs, r)
	return nil
}

func (s *Store) Runs(_ context.Context, limit int) ([]reward.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]reward.Run(nil), s.runs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *Store) History(_ context.Context, p reward.Provider, id string) (reward.Commission, []reward.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.commissions[key(p, id)]
	if !ok {
		return reward.Commission{}, nil, fmt.Errorf("commission %s/%s: %w", p, id, reward.ErrNotFound)
	}
	var entries []reward.Entry
	for _, e := range s.entries {
		if e.Account.Provider == p && e.Subject == "commission:"+id {
			entries = append(entries, e)
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		return entries[i].At.Before(entries[j].At) || entries[i].At.Equal(entries[j].At) && entries[i].ID < entries[j].ID
	})
	return c, entries, nil
}

func (s *Store) Outbox(_ context.Context, p reward.Provider, limit int) ([]reward.Commission, error) {
	return s.lane(p, reward.Fulfilment.Outstanding, limit), nil
}

// lane lists up to limit commissions of p in an outbox lane (in reports
// whether a fulfilment state is in it), oldest RequestedAt first, as the
// DynamoDB store's outbox index orders them.
func (s *Store) lane(p reward.Provider, in func(reward.Fulfilment) bool, limit int) []reward.Commission {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []reward.Commission
	for _, c := range s.commissions {
		if c.Provider == p && in(c.Fulfilment) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].RequestedAt.Equal(out[j].RequestedAt) {
			return out[i].RequestedAt.Before(out[j].RequestedAt)
		}
		return out[i].ID < out[j].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func (s *Store) Ledger(context.Context) (reward.Ledger, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l reward.Ledger
	for _, e := range s.entries {
		l.Entries = append(l.Entries, e)
	}
	for a, d := range s.balances {
		l.Balances = append(l.Balances, reward.Balance{Account: a, Deltas: d})
	}
	for _, c := range s.commissions {
		l.Commissions = append(l.Commissions, c)
	}
	for _, p := range s.payouts {
		l.Payouts = append(l.Payouts, p)
	}
	for _, r := range s.redemptions {
		l.Redemptions = append(l.Redemptions, r)
	}
	sort.Slice(l.Redemptions, func(i, j int) bool { return l.Redemptions[i].ID < l.Redemptions[j].ID })
	sort.Slice(l.Entries, func(i, j int) bool { return l.Entries[i].ID < l.Entries[j].ID })
	sort.Slice(l.Balances, func(i, j int) bool { return l.Balances[i].Account.String() < l.Balances[j].Account.String() })
	sort.Slice(l.Commissions, func(i, j int) bool {
		return key(l.Commissions[i].Provider, l.Commissions[i].ID) < key(l.Commissions[j].Provider, l.Commissions[j].ID)
	})
	sort.Slice(l.Payouts, func(i, j int) bool {
		return key(l.Payouts[i].Provider, l.Payouts[i].ID) < key(l.Payouts[j].Provider, l.Payouts[j].ID)
	})
	return l, nil
}
