package agentref

import (
	"fmt"
	"sort"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Intent is a listed conversion's ledger intent; currency applies where
// the platform names none. An error says why the row cannot be read (its
// commission, its id or affiliate): the reconciler records it as drift.
func (c Conversion) Intent(currency string) (reward.Intent, error) {
	cents, err := c.CommissionCents()
	if err != nil {
		return reward.Intent{}, fmt.Errorf("GET /conversions: commission: %w", err)
	}
	return ConversionData{ID: c.ID, AffiliateID: c.AffiliateID, Currency: c.Currency, CommissionAmount: &cents, Status: c.Status}.Intent(currency)
}

// Intent is a payout listed with status as a ledger intent: the platform's
// current word on it (Current), said at a time by which it was in that
// status. An error says its amount cannot be read.
func (po Payout) Intent(currency string, status reward.PayoutStatus) (reward.PayoutIntent, error) {
	cents, err := po.Amount.Cents()
	if err != nil {
		return reward.PayoutIntent{}, fmt.Errorf("GET /payouts: amount: %w", err)
	}
	in := PayoutData{ID: po.ID, AffiliateID: po.AffiliateID, Amount: cents, Currency: po.Currency}.Intent(currency, status, po.listedAt(status))
	in.Current = true
	return in, nil
}

// listedAt is a time by which a listed payout was in its status, by the
// platform's clock: a completed one's completion; a failed one failed after
// its creation and after any completion the platform still shows.
func (po Payout) listedAt(status reward.PayoutStatus) time.Time {
	at := po.CreatedAt
	if po.CompletedAt != nil && (status == reward.PayoutCompleted || po.CompletedAt.After(at)) {
		at = *po.CompletedAt
	}
	return at
}

// Holds are the holds that make the ledger's (stored) agree with the
// platform's lists: a blocked affiliate is held as of asOf (the platform's
// clock when it listed them), a confirmed flag holds its affiliate as of
// its resolution, and a hold the platform no longer shows is released as
// of asOf, unless a confirmed flag at least as recent as the hold keeps
// it (a flag's hold ends only with affiliate.unblocked, whose time the API
// does not give). An affiliate both blocked and flagged comes first as of
// the newer; the store keeps the newest of each.
func Holds(blocked []Affiliate, flags []Flag, asOf time.Time, stored []reward.Hold) []reward.Hold {
	isBlocked := map[reward.Recipient]bool{}
	for _, a := range blocked {
		if a.Status == "blocked" {
			isBlocked[reward.Affiliate(a.ID)] = true
		}
	}
	flagged := map[reward.Recipient]time.Time{} // the newest confirmed flag
	for _, f := range flags {
		if who := reward.Affiliate(f.AffiliateID); f.AffiliateID != "" && f.Resolved().After(flagged[who]) {
			flagged[who] = f.Resolved()
		}
	}
	hold := func(who reward.Recipient, held bool, at time.Time) reward.Hold {
		return reward.Hold{Provider: reward.AgentRef, Recipient: who, Held: held, At: at}
	}
	var want []reward.Hold
	for who := range isBlocked {
		want = append(want, hold(who, true, asOf))
	}
	for who, at := range flagged {
		want = append(want, hold(who, true, at))
	}
	for _, h := range stored {
		if h.Held && !isBlocked[h.Recipient] && flagged[h.Recipient].Before(h.At) {
			want = append(want, hold(h.Recipient, false, asOf))
		}
	}
	sort.Slice(want, func(i, j int) bool {
		return want[i].Recipient < want[j].Recipient || want[i].Recipient == want[j].Recipient && want[i].At.After(want[j].At)
	})
	return want
}
