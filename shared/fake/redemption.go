package fake

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

var _ reward.RedemptionStore = (*Store)(nil)

// Redeem implements reward.RedemptionStore.
func (s *Store) Redeem(_ context.Context, c reward.RedemptionChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail(); err != nil {
		return err
	}
	if cur, ok := s.redemptions[c.After.ID]; ok {
		return &reward.RedemptionExists{Current: cur}
	}
	if err := s.checkEntries(c.Entries); err != nil {
		return err
	}
	var debit int64
	for _, e := range c.Entries {
		debit -= e.Deltas.Available
	}
	if avail := s.balances[c.After.Account].Available; avail < debit {
		return &reward.Insufficient{Available: avail}
	}
	if s.redemptions == nil {
		s.redemptions = map[string]reward.Redemption{}
	}
	after := c.After
	after.Version = 1
	s.redemptions[after.ID] = after
	s.writeEntries(c.Entries)
	return nil
}

// TransitionRedemption implements reward.RedemptionStore.
func (s *Store) TransitionRedemption(_ context.Context, c reward.RedemptionChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail(); err != nil {
		return err
	}
	cur, ok := s.redemptions[c.After.ID]
	if !ok {
		return fmt.Errorf("redemption %s: %w", c.After.ID, reward.ErrNotFound)
	}
	if c.Before == nil || cur.Status != c.Before.Status || cur.Version != c.Before.Version {
		return &reward.RedemptionMismatch{Current: cur}
	}
	if err := s.checkEntries(c.Entries); err != nil {
		return err
	}
	after := c.After
	after.Version = cur.Version + 1
	s.redemptions[after.ID] = after
	s.writeEntries(c.Entries)
	return nil
}

// Redemption implements reward.RedemptionStore.
func (s *Store) Redemption(_ context.Context, id string) (reward.Redemption, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.redemptions[id]
	if !ok {
		return reward.Redemption{}, fmt.Errorf("redemption %s: %w", id, reward.ErrNotFound)
	}
	return r, nil
}

// RedemptionHistory implements reward.RedemptionStore.
func (s *Store) RedemptionHistory(ctx context.Context, id string) (reward.Redemption, []reward.Entry, error) {
	r, err := s.Redemption(ctx, id)
	if err != nil {
		return r, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []reward.Entry
	for _, e := range s.entries {
		if e.Subject == "redemption:"+id {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return reward.EntrySortKey(out[i]) < reward.EntrySortKey(out[j]) })
	return r, out, nil
}

// RecipientBalances implements reward.RedemptionStore.
func (s *Store) RecipientBalances(_ context.Context, r reward.Recipient) ([]reward.Balance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []reward.Balance
	for a, d := range s.balances {
		if a.Recipient == r {
			out = append(out, reward.Balance{Account: a, Deltas: d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Account.String() < out[j].Account.String() })
	return out, nil
}

// RecipientEntries implements reward.RedemptionStore.
func (s *Store) RecipientEntries(_ context.Context, r reward.Recipient, limit int, cursor string) ([]reward.Entry, string, error) {
	after := ""
	if cursor != "" {
		k, _, err := reward.ParseEntryCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		after = k
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []reward.Entry
	for _, e := range s.entries {
		if e.Account.Recipient == r && (after == "" || reward.EntrySortKey(e) < after) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return reward.EntrySortKey(out[i]) > reward.EntrySortKey(out[j]) })
	if len(out) <= limit {
		return out, "", nil
	}
	return out[:limit], reward.EntryCursor(out[limit-1]), nil
}

// ExpiredHolds implements reward.RedemptionStore.
func (s *Store) ExpiredHolds(_ context.Context, at time.Time, limit int) ([]reward.Redemption, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []reward.Redemption
	for _, r := range s.redemptions {
		if r.Status == reward.RedemptionHeld && !r.HoldExpiresAt.After(at) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].HoldExpiresAt.Before(out[j].HoldExpiresAt) || out[i].HoldExpiresAt.Equal(out[j].HoldExpiresAt) && out[i].ID < out[j].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
