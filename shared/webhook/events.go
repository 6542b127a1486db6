package webhook

// handled lists, per provider, the event types the processor acts on or
// stores. Anything else is acknowledged at the door and never queued, so a
// platform's new event type cannot cause days of retries. FirstPromoter's
// payout events only echo the processor's own mark_fulfilled (recorded when
// the call answered), and carry a payout, whose amount may be fractional,
// where the processor reads a commission: they are acknowledged, not queued.
var handled = map[Provider]map[string]bool{
	FirstPromoter: {
		"commission.created":  true,
		"commission.updated":  true,
		"commission.approved": true,
		"commission.denied":   true,
		"commission.pending":  true,
		"commission.deleted":  true,
	},
	AgentRef: {
		"conversion.created":  true,
		"conversion.refunded": true,
		"affiliate.blocked":   true,
		"affiliate.unblocked": true,
		"flag.resolved":       true,
		"payout.created":      true,
		"payout.processing":   true,
		"payout.completed":    true,
		"payout.failed":       true,
		"program.created":     true,
		"program.updated":     true,
	},
}

// Handled reports whether the processor acts on (or stores) events of this
// type from this provider.
func Handled(p Provider, eventType string) bool {
	return handled[p][eventType]
}
