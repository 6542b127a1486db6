package fake

import (
	"context"
	"sort"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// covers is Apply's balance condition for a change marked Covered: each
// account's available balance covers what the entries take from it (lock
// held).
func (s *Store) covers(c reward.Change) error {
	if !c.Covered {
		return nil
	}
	take := map[reward.Account]int64{}
	for _, e := range c.Entries {
		take[e.Account] -= e.Deltas.Available
	}
	for a, n := range take {
		if avail := s.balances[a].Available; n > 0 && avail < n {
			return &reward.Insufficient{Available: avail}
		}
	}
	return nil
}

// UnfulfilOutbox implements reward.Store.
func (s *Store) UnfulfilOutbox(_ context.Context, p reward.Provider, limit int) ([]reward.Commission, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []reward.Commission
	for _, c := range s.commissions {
		if c.Provider == p && c.Fulfilment.Unfulfilling() {
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
	return out, nil
}
