package reward

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
