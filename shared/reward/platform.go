package reward

import (
	"context"
	"errors"
	"time"
)

// ErrPlatformDown means what decides an event could not be read from its
// platform (unreachable, or an answer that breaks its contract): the event
// waits for the platform.
var ErrPlatformDown = errors.New("the platform's API is unreachable")

// Delivery is a queued webhook delivery's body, for its platform to decode.
type Delivery struct {
	Body       []byte
	ReceivedAt time.Time
}

// Platform is the port through which the use cases run one affiliate
// platform: its package decodes the platform's deliveries into what they
// ask of the ledger. A platform that acknowledges delivered rewards also
// implements Acknowledger (and Unfulfiller).
type Platform interface {
	// Provider names the platform's deliveries and ledger rows.
	Provider() Provider
	// Prepare decodes a batch's deliveries of the platform, each once,
	// and reads from the platform, in as few requests as it can, what they
	// need. The error is that read's (it wraps ErrContract for an answer
	// that breaks its contract): the returned Prepared then answers what
	// can be done without the platform (with none, every delivery waits
	// for the platform).
	Prepare(ctx context.Context, ds []Delivery) (Prepared, error)
}

// Prepared is a batch's deliveries of one platform, decoded, with what the
// platform said of them.
type Prepared interface {
	// Lane names whom delivery i concerns: the deliveries of one lane
	// apply one after another, in order; "" is a lane of its own.
	Lane(i int) string
	// Request is what delivery i asks of the ledger, which it may read
	// where the platform's view lacks something. An error wrapping
	// ErrPlatformDown means it waits for the platform; one wrapping
	// ErrInvalid, that it never applies.
	Request(ctx context.Context, i int, ledger LedgerReader) (Request, error)
}

// LedgerReader is what a platform may read of the ledger.
type LedgerReader interface {
	// Commission is a commission's stored state; ErrNotFound when absent.
	Commission(ctx context.Context, p Provider, id string) (Commission, error)
	// Held reports whether the recipient's approvals are held.
	Held(ctx context.Context, p Provider, r Recipient) (bool, error)
}
