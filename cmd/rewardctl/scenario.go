package main

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// scenario is a set of commissions over both platforms with random
// lifecycles, the webhooks the platforms send for them, and the outcome
// the ledger and the platforms must come to once everything is delivered
// (or, for lost webhooks, reconciled).
type scenario struct {
	// fp and conversions are the platforms' final state; fpStart is
	// FirstPromoter's at the start: pending, but for commissions whose
	// webhooks are all lost, which change silently.
	fp          []simulator.FPCommission
	fpStart     []simulator.FPCommission
	conversions []simulator.Conversion
	// webhooks are the events the platforms send, each once, without the
	// lost ones.
	webhooks []plannedWebhook
	lost     int
	want     map[reward.Account]*expect
	// approved FirstPromoter commissions must end acknowledged on the
	// platform, denied ones never.
	approved, denied []int64
	// fpFrom and fpTo bound the FirstPromoter commission ids.
	fpFrom, fpTo int64
}

// expect is the ground truth of one account: reversed may be anything up
// to maxReversed (a denial can arrive before or after the delivery).
type expect struct{ pending, available, maxReversed int64 }

// plannedWebhook is one event, signed when it is sent (AgentRef signatures
// expire).
type plannedWebhook struct {
	build func(now time.Time) (simulator.Delivery, error)
	// commission is the FirstPromoter commission the event is about (0
	// for AgentRef), stage its place in the commission's lifecycle and
	// status the platform's status from then on: the platform changes
	// when it sends the event, so a later stage sent first wins.
	commission int64
	stage      int
	status     string
	// approves is set on an approval.
	approves bool
}

// scenarioSecrets are the webhook secrets the scenario signs with.
type scenarioSecrets struct{ firstPromoter, agentRef string }

// newScenario draws n commissions, two thirds FirstPromoter and one third
// AgentRef, under ids and recipients unique to run (its start in Unix
// milliseconds), losing every webhook
// of a commission with probability lost.
func newScenario(rng *rand.Rand, run int64, n int, lost float64, secrets scenarioSecrets, now time.Time) *scenario {
	sc := &scenario{want: map[reward.Account]*expect{}}
	at := func(a reward.Account) *expect {
		if sc.want[a] == nil {
			sc.want[a] = &expect{}
		}
		return sc.want[a]
	}
	// Ids a run of up to 100,000 commissions never shares with another
	// started in another millisecond (of the last 11 days), below 2^53 so
	// that every JSON reader keeps them exact.
	base := run % 1_000_000_000 * 100_000
	sc.fpFrom = base + 1
	nFP := n * 2 / 3
	for i := range nFP {
		id := base + 1 + int64(i)
		sc.fpTo = id
		promoter := base + 1 + rng.Int64N(8)
		unit := reward.NonMonetary[rng.IntN(len(reward.NonMonetary))]
		c := simulator.FPCommission{ID: id, Status: "pending", Unit: string(unit), Amount: 1 + rng.Int64N(1000), PromoterID: promoter, RewardID: 1, CreatedAt: now}
		acct := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter(strconv.FormatInt(promoter, 10)), Unit: unit}
		event := func(suffix, eventType, oldStatus string, state simulator.FPCommission, stage int) plannedWebhook {
			return plannedWebhook{commission: id, stage: stage, status: state.Status, build: func(time.Time) (simulator.Delivery, error) {
				return simulator.FirstPromoterEvent(secrets.firstPromoter, fmt.Sprintf("evt-%d-%s", id, suffix), eventType, state, oldStatus, now), nil
			}}
		}
		start := c
		events := []plannedWebhook{event("c", "commission.created", "", c, 0)}
		switch p := rng.Float64(); {
		case p < 0.2: // stays pending
			at(acct).pending += c.Amount
		case p < 0.65: // approved
			c.Status = "approved"
			w := event("a", "commission.updated", "pending", c, 1)
			w.approves = true
			events = append(events, w)
			at(acct).available += c.Amount
			sc.approved = append(sc.approved, id)
		case p < 0.85: // denied
			c.Status = "denied"
			events = append(events, event("d", "commission.updated", "pending", c, 1))
			sc.denied = append(sc.denied, id)
		default: // approved, then denied (a reversal)
			c.Status = "approved"
			events = append(events, event("a", "commission.updated", "pending", c, 1))
			c.Status = "denied"
			events = append(events, event("d", "commission.updated", "approved", c, 2))
			at(acct).maxReversed += c.Amount
		}
		sc.fp = append(sc.fp, c)
		if rng.Float64() < lost {
			// Its webhooks never come: the platform changes silently.
			sc.fpStart = append(sc.fpStart, c)
			sc.lost++
			continue
		}
		sc.fpStart = append(sc.fpStart, start)
		sc.webhooks = append(sc.webhooks, events...)
	}
	for i := range n - nFP {
		id := fmt.Sprintf("conv-%d-%d", run, i+1)
		aff := fmt.Sprintf("aff-%d-%d", run, 1+rng.IntN(4))
		acct := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate(aff), Unit: reward.Cash, Currency: "usd"}
		created := simulator.Conversion{ID: id, AffiliateID: aff, Currency: "usd", CommissionAmount: 100 * (1 + rng.Int64N(50)), Status: "pending", CreatedAt: now}
		final := created
		isLost := rng.Float64() < lost
		// AgentRef announces conversions, not their approval or rejection:
		// those only the reconciler sees.
		switch p := rng.Float64(); {
		case p < 0.35:
			if !isLost {
				// A lost pending conversion has no webhook yet: nothing
				// can know of it.
				at(acct).pending += created.CommissionAmount
			}
		case p < 0.8:
			final.Status = "approved"
			at(acct).available += created.CommissionAmount
		default:
			final.Status = "rejected"
		}
		sc.conversions = append(sc.conversions, final)
		if isLost {
			sc.lost++
			continue
		}
		sc.webhooks = append(sc.webhooks, plannedWebhook{build: func(at time.Time) (simulator.Delivery, error) {
			return simulator.AgentRefEvent(secrets.agentRef, "msg-"+id, "conversion.created", created, at)
		}})
	}
	return sc
}

// sends are the scenario's deliveries: each webhook 1 to maxCopies times
// (a platform retrying), all in random order.
func (sc *scenario) sends(rng *rand.Rand, maxCopies int) []plannedWebhook {
	var out []plannedWebhook
	for _, w := range sc.webhooks {
		for range 1 + rng.IntN(max(1, maxCopies)) {
			out = append(out, w)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// accountCheck is one account's ground truth next to the ledger.
type accountCheck struct {
	account reward.Account
	want    expect
	got     reward.Deltas
}

func (c accountCheck) ok() bool {
	return c.got.Pending == c.want.pending && c.got.Available == c.want.available && c.got.Reversed >= 0 && c.got.Reversed <= c.want.maxReversed
}

// check compares the ledger and the platform's commissions with the ground
// truth: one row per account, and every difference in words.
func (sc *scenario) check(l reward.Ledger, platform []simulator.FPCommission) ([]accountCheck, []string) {
	got := map[reward.Account]reward.Deltas{}
	for _, b := range l.Balances {
		got[b.Account] = b.Deltas
	}
	var rows []accountCheck
	var diffs []string
	for a, w := range sc.want {
		row := accountCheck{account: a, want: *w, got: got[a]}
		rows = append(rows, row)
		if !row.ok() {
			diffs = append(diffs, fmt.Sprintf("%s %s: pending %d available %d reversed %d; want %d, %d, reversed <= %d",
				a.Provider, a.Recipient, row.got.Pending, row.got.Available, row.got.Reversed, w.pending, w.available, w.maxReversed))
		}
	}
	slices.SortFunc(rows, func(x, y accountCheck) int {
		return cmpAccounts(x.account, y.account)
	})
	slices.Sort(diffs)
	fulfilled := map[int64]bool{}
	for _, c := range platform {
		fulfilled[c.ID] = c.Fulfilled
	}
	for _, id := range sc.approved {
		if !fulfilled[id] {
			diffs = append(diffs, fmt.Sprintf("firstpromoter commission %d is approved and delivered but not acknowledged on the platform", id))
		}
	}
	for _, id := range sc.denied {
		if fulfilled[id] {
			diffs = append(diffs, fmt.Sprintf("firstpromoter commission %d is denied but acknowledged on the platform", id))
		}
	}
	if v := l.Audit(); len(v) > 0 {
		for _, x := range v {
			diffs = append(diffs, "audit: "+x.String())
		}
	}
	return rows, diffs
}

func cmpAccounts(x, y reward.Account) int {
	return cmp.Or(strings.Compare(string(x.Provider), string(y.Provider)), strings.Compare(string(x.Recipient), string(y.Recipient)),
		strings.Compare(string(x.Unit), string(y.Unit)), strings.Compare(x.Currency, y.Currency))
}
