package reward

import (
	"context"
	"time"
)

// MessageFailure is why a queued delivery last failed to apply: what an
// operator needs when the message reaches the dead-letter queue.
type MessageFailure struct {
	// MessageID is the queue's message id, which the message keeps in the
	// dead-letter queue.
	MessageID string
	Provider  Provider
	EventID   string
	EventType string
	Reason    string
	// Receives is the message's receive count when it failed.
	Receives int
	At       time.Time
	// ExpiresAt is when the record may be forgotten.
	ExpiresAt time.Time
}

// FailureLog keeps the last failure of each queued message.
type FailureLog interface {
	// RecordFailure stores f, replacing an earlier failure of the same
	// message. Its errors are transient.
	RecordFailure(ctx context.Context, f MessageFailure) error
	// Failure returns the last failure recorded for a message, or
	// ErrNotFound.
	Failure(ctx context.Context, messageID string) (MessageFailure, error)
}
