package reward

import "context"

// Settlement is what a platform said when told of delivered rewards (or of
// failed deliveries), by commission id. An id in none of its parts got no
// answer (the platform could not be reached): it stays as it was.
type Settlement struct {
	// Acknowledged: the platform confirmed them (fulfilled, or no longer
	// fulfilled when told of a failed delivery).
	Acknowledged map[string]bool
	// Refused: the platform refused them for good, with its reason; trying
	// again would not change that.
	Refused map[string]string
	// Unconfirmed: neither confirmed nor refused for good, with the
	// reason; tried again.
	Unconfirmed map[string]string
	// Batches are asynchronous batches still to poll, by platform id, with
	// the commissions each covers.
	Batches map[string][]string
}

// NewSettlement returns an empty settlement.
func NewSettlement() *Settlement {
	return &Settlement{Acknowledged: map[string]bool{}, Refused: map[string]string{}, Unconfirmed: map[string]string{}, Batches: map[string][]string{}}
}

// Acknowledger is the port through which a platform is told of delivered
// rewards.
type Acknowledger interface {
	// Acknowledge tells the platform that the commissions were delivered
	// and settles its answer. The error is the platform's when it could not
	// be reached or asked: the ids it concerns are in no part of the
	// settlement (a nil settlement has none). A platform answer that
	// breaks its contract wraps ErrContract.
	Acknowledge(ctx context.Context, commissionIDs []string) (*Settlement, error)
}

// Unfulfiller is the port through which a platform is told of deliveries
// that failed after it was told they were delivered.
type Unfulfiller interface {
	// Unfulfil tells the platform the commissions' deliveries failed and
	// settles its answer: Acknowledged holds the ids it confirmed no
	// longer fulfilled. The error is as Acknowledge's.
	Unfulfil(ctx context.Context, commissionIDs []string) (*Settlement, error)
}
