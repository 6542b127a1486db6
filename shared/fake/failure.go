package fake

import (
	"context"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

var _ reward.FailureLog = (*Store)(nil)

// RecordFailure implements reward.FailureLog.
func (s *Store) RecordFailure(_ context.Context, f reward.MessageFailure) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail(); err != nil {
		return err
	}
	if s.failures == nil {
		s.failures = map[string]reward.MessageFailure{}
	}
	s.failures[f.MessageID] = f
	return nil
}

// Failure implements reward.FailureLog.
func (s *Store) Failure(_ context.Context, messageID string) (reward.MessageFailure, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.failures[messageID]
	if !ok {
		return reward.MessageFailure{}, reward.ErrNotFound
	}
	return f, nil
}
