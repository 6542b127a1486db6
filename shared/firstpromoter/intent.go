package firstpromoter

import (
	"fmt"
	"strconv"

	"github.com/rewardrelay/rewardrelay/shared/reward"
)

// Rules are the deployment's choices in reading commissions.
type Rules struct {
	// ReferralRewardIDs are reward ids whose commissions reward the
	// referred customer instead of the promoter.
	ReferralRewardIDs map[int64]bool
	// Units are the units this deployment delivers; cash never is.
	Units map[reward.Unit]bool
}

// Delivers reports whether the deployment delivers u.
func (r Rules) Delivers(u reward.Unit) bool { return u != reward.Cash && r.Units[u] }

// Recipient is whom a commission the platform returned rewards: its
// referral for a referral reward (named by the event when the platform's
// row lacks it; env may be nil), else its promoter; "" when the platform
// names neither.
func (r Rules) Recipient(c Commission, env *Event) reward.Recipient {
	if c.Reward != nil && r.ReferralRewardIDs[c.Reward.ID] {
		if c.Referral != nil {
			return reward.Referral(c.Referral.UID, strconv.FormatInt(c.Referral.ID, 10))
		}
		if env != nil && env.Data.Referral != nil {
			return reward.Referral(env.Data.Referral.UID, env.Data.Referral.ID.String())
		}
		return ""
	}
	if c.PromoterID() != 0 {
		return reward.Promoter(strconv.FormatInt(c.PromoterID(), 10))
	}
	return ""
}

// Intent is a listed commission's ledger intent towards target; ok is
// false for a unit the deployment does not deliver. Its recipient may be
// invalid when the platform names none.
func (r Rules) Intent(c Commission, target reward.Target) (reward.Intent, bool) {
	u, err := reward.ParseUnit(c.Unit)
	if err != nil || !r.Delivers(u) {
		return reward.Intent{}, false
	}
	return reward.Intent{
		Provider: reward.FirstPromoter, CommissionID: strconv.FormatInt(c.ID, 10), Target: target, Amount: c.Amount,
		Account: reward.Account{Provider: reward.FirstPromoter, Unit: u, Recipient: r.Recipient(c, nil)}, Acknowledge: true,
	}, true
}

// Verdict is what becomes of a commission event.
type Verdict int

// Verdicts of EventIntent.
const (
	// Apply: the intent is to be applied.
	Apply Verdict = iota
	// Ignore: a unit the deployment does not deliver; recorded, no change.
	Ignore
	// NotListed: the platform did not return the commission and the event
	// is no denial: nothing of it is the platform's view; recorded as
	// stale (the reconciler's lists deliver it should it appear).
	NotListed
	// StoredAccount: a denial of a commission the platform no longer
	// returns: only the ledger knows whom it concerned, and the intent
	// takes the stored commission's account.
	StoredAccount
)

// EventIntent is a commission event's ledger intent, with the platform's
// current view c of it (known is false when the platform did not return
// it): the platform's view wins over the (possibly old) event. An error
// wraps reward.ErrInvalid or says the platform names no recipient.
func (r Rules) EventIntent(e Event, id int64, c Commission, known bool) (reward.Intent, Verdict, error) {
	target := e.Target()
	in := reward.Intent{Provider: reward.FirstPromoter, CommissionID: strconv.FormatInt(id, 10), Acknowledge: true}
	unit, amount := e.Data.Unit, e.Data.Amount
	if known {
		target, unit, amount = StatusTarget(c.Status), c.Unit, c.Amount
		if e.EventType == "commission.deleted" {
			target = reward.TargetDenied
		}
	}
	u, err := reward.ParseUnit(unit)
	if err != nil {
		return in, Apply, err
	}
	in.Target, in.Amount = target, amount
	in.Account = reward.Account{Provider: reward.FirstPromoter, Unit: u}
	if !r.Delivers(u) {
		return in, Ignore, nil
	}
	if known {
		in.Account.Recipient = r.Recipient(c, &e)
	}
	if in.Account.Recipient.Valid() {
		return in, Apply, nil
	}
	switch {
	case target != reward.TargetDenied && !known:
		return in, NotListed, nil
	case target != reward.TargetDenied:
		return in, Apply, fmt.Errorf("commission %d names no recipient on the platform", id)
	}
	return in, StoredAccount, nil
}
