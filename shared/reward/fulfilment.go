package reward

// Outstanding reports whether a delivery in this state waits for the
// platform's acknowledgement: the outbox.
func (f Fulfilment) Outstanding() bool { return f == Requested || f == Failed }

// KeepFulfilment returns c with the fulfilment fields of stored: what a
// store keeps of them when a change does not write them.
func (c Commission) KeepFulfilment(stored Commission) Commission {
	c.Fulfilment, c.FulfilmentBatch, c.FulfilmentError, c.RequestedAt = stored.Fulfilment, stored.FulfilmentBatch, stored.FulfilmentError, stored.RequestedAt
	return c
}

// FulfilmentHolds reports whether a change may write its fulfilment fields
// over the stored commission (nil: absent): only a change that writes them
// is checked, and it must find them as it planned, so that an
// acknowledgement recorded meanwhile is never overwritten. It is the part of
// Store.Apply's condition that SameState does not cover.
func FulfilmentHolds(stored *Commission, c Change) bool {
	return !c.FulfilmentChanged || stored == nil || c.Before == nil || stored.Fulfilment == c.Before.Fulfilment
}

// SameLane reports whether two fulfilment states wait in the same lane of
// the outbox (acknowledgements, or failed deliveries the platform is to be
// told of): a delivery that stays in its lane keeps the time it entered it.
func SameLane(a, b Fulfilment) bool {
	return a.Outstanding() && b.Outstanding() || a.Unfulfilling() && b.Unfulfilling()
}
