package relay

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// The property test's histories: what the platforms do, step by step, the
// webhooks each step sends, and the ground truth the ledger must show once
// everything has been delivered and reconciled.

// platformClock is both platforms' clock in a history: step n happens at
// at(n), a minute after step n-1, and between two steps the clock reads
// half a minute after the last one, so that a listing made between two
// steps is as of a time between theirs.
type platformClock struct {
	base time.Time
	done atomic.Int64 // steps done
}

func (c *platformClock) at(n int64) time.Time { return c.base.Add(time.Duration(n) * time.Minute) }

func (c *platformClock) now() time.Time { return c.at(c.done.Load()).Add(30 * time.Second) }

// step is one change on a platform and the webhooks it sends.
type step struct {
	// do changes the platform as of at and returns the webhooks it sends
	// (none for a lost one).
	do func(at time.Time) []Message
	// ready, when set, holds the step back until the ledger is ready for
	// it: a change after delivery waits for the delivery.
	ready func(ctx context.Context) bool
}

// history is a generated sequence of platform steps in phases: a phase
// starts once every step of the one before is done, in a round of its own,
// so that no reconciler run overlaps two phases. The phases: everything
// but the held affiliates' last hold events; those last events; the
// approvals of their conversions, all in one round; the release of some
// still held. While the last holds happen, half the histories run no
// reconciler, so that some of their webhooks are still queued when the
// approvals happen, and the others run it every round, so that they
// happen between a run's reads; the approvals and the releases run it
// every round.
type history struct {
	phases []phase
	// afterDelivery steps run whenever they are ready.
	afterDelivery []step
	want          expectation
	// words is what the platform said of holds and payouts, and when.
	words *wordLog
}

// phase is a part of a history.
type phase struct {
	steps []step
	// runs is the share of its rounds that run the reconciler (-1: the
	// configured share).
	runs float64
	// atOnce: its steps happen in one round.
	atOnce bool
}

// truth is what the ledger must show for one account.
type truth struct {
	pending, available int64
	maxReversed        int64
	// A clawback may have been acknowledged before it was denied: the
	// fulfilled balance lies between these.
	minFulfilled, maxFulfilled int64
}

// fpTruth is where a FirstPromoter commission must end.
type fpTruth struct {
	// status is the ledger's: a clawback is Reversed, or Denied when the
	// ledger never saw it approved.
	status reward.Status
	// account is where its value is: a pending credit's is the platform's
	// final one, a delivered reward's the one it was delivered to.
	account reward.Account
	// refused: the platform will not mark it fulfilled.
	refused bool
	// announced: every change of its account had a webhook, so that its
	// webhooks alone (none lost) leave it where it must end.
	announced bool
	// undelivered: the merchant's delivery of it failed and it was not
	// redelivered: out of available, and not fulfilled on the platform.
	undelivered bool
}

// expectation is the ground truth a history must leave in the ledger.
type expectation struct {
	accounts      map[reward.Account]*truth
	firstPromoter map[int64]fpTruth
	// held is each hold affiliate's final hold: the newest event's.
	held map[string]bool
	// heldConversions are the conversions approved while their affiliate
	// ends on hold: they must still be pending.
	heldConversions int
	// accountChanged are the commissions (of either platform) whose
	// account changes: the only ones whose change may be reported.
	accountChanged map[string]bool
	// keptAfterDelivery are FirstPromoter commissions whose account changes
	// after their delivery: the reward stays, and the change is reported.
	keptAfterDelivery map[string]bool
	// announced are the AgentRef conversions whose every change has a
	// webhook, with the status those webhooks leave them in.
	announced map[string]reward.Status
	// payouts are each payout's last word.
	payouts map[string]reward.Payout
}

func (e *expectation) at(a reward.Account) *truth {
	if e.accounts[a] == nil {
		e.accounts[a] = &truth{}
	}
	return e.accounts[a]
}

// generator builds a history on a simulator.
type generator struct {
	t   testing.TB
	rng *rand.Rand
	sim *simulator.Simulator
	// store is the ledger a step that waits for a delivery reads.
	store reward.Store
	// lost is the share of FirstPromoter webhooks never delivered.
	lost  float64
	want  expectation
	words *wordLog
}

// wordLog is what the platform said of a subject (an affiliate's hold, a
// payout's status), and when: the steps write it as they happen.
type wordLog struct {
	mu    sync.Mutex
	words map[string][]word
}

type word struct {
	at   time.Time
	says string
}

func (l *wordLog) add(subject string, at time.Time, says string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.words[subject] = append(l.words[subject], word{at, says})
}

// at is what the platform's newest word of subject at or before t says
// ("" before its first).
func (l *wordLog) at(subject string, t time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var newest word
	for _, w := range l.words[subject] {
		if !w.at.After(t) && !w.at.Before(newest.at) {
			newest = w
		}
	}
	return newest.says
}

// since reports whether the platform said says of subject after t.
func (l *wordLog) since(subject string, t time.Time, says string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.words[subject] {
		if w.at.After(t) && w.says == says {
			return true
		}
	}
	return false
}

func newGenerator(t testing.TB, rng *rand.Rand, h *harness, lost float64) *generator {
	return &generator{t: t, rng: rng, sim: h.sim, store: h.store, lost: lost, words: &wordLog{words: map[string][]word{}}, want: expectation{
		accounts: map[reward.Account]*truth{}, firstPromoter: map[int64]fpTruth{}, held: map[string]bool{},
		accountChanged: map[string]bool{}, keptAfterDelivery: map[string]bool{},
		announced: map[string]reward.Status{}, payouts: map[string]reward.Payout{},
	}}
}

// buildHistory generates a history: FirstPromoter commissions whose
// account may change before their approval or after their delivery,
// AgentRef conversions and payouts, and affiliates blocked, unblocked and
// flagged with conversions approved while they are held.
func buildHistory(t testing.TB, rng *rand.Rand, h *harness, cfg propertyConfig) *history {
	g := newGenerator(t, rng, h, cfg.lost)
	var first, lastHolds, approvals, releases [][]step
	var afterDelivery []step
	for i := 1; i <= cfg.commissions; i++ {
		seq, after := g.firstPromoter(int64(i))
		first = append(first, seq)
		afterDelivery = append(afterDelivery, after...)
	}
	for i := 1; i <= cfg.conversions; i++ {
		first = append(first, g.conversion(fmt.Sprintf("conv_%d", i)))
	}
	for i := 1; i <= cfg.payouts; i++ {
		first = append(first, g.payout(fmt.Sprintf("po_%d", i)))
	}
	for i := 1; i <= cfg.heldAffiliates; i++ {
		holds, creations, approve, release := g.heldAffiliate(fmt.Sprintf("held_%d", i))
		if len(holds) > 1 {
			first = append(first, holds[:len(holds)-1])
		}
		lastHolds = append(lastHolds, holds[len(holds)-1:])
		first = append(first, creations...)
		approvals = append(approvals, approve)
		if release != nil {
			releases = append(releases, release)
		}
	}
	hist := &history{want: g.want, afterDelivery: afterDelivery, words: g.words}
	hist.phases = []phase{
		{steps: interleave(rng, first), runs: -1},
		{steps: interleave(rng, lastHolds), runs: float64(rng.IntN(2))},
		{steps: interleave(rng, approvals), runs: 1, atOnce: true},
		{steps: interleave(rng, releases), runs: 1},
	}
	return hist
}

// interleave merges sequences of steps in a random order that keeps each
// sequence's own. A third of the time it takes 2-3 steps of a sequence in
// a burst: one step that takes them 10 seconds apart (a payout failed and
// retried at once, a commission created and approved), whose webhooks
// then leave together.
func interleave(rng *rand.Rand, seqs [][]step) []step {
	var out []step
	for len(seqs) > 0 {
		i := rng.IntN(len(seqs))
		n := 1
		if rng.IntN(3) == 0 {
			n = min(2+rng.IntN(2), len(seqs[i]))
		}
		out = append(out, burst(seqs[i][:n]))
		if seqs[i] = seqs[i][n:]; len(seqs[i]) == 0 {
			seqs = append(seqs[:i], seqs[i+1:]...)
		}
	}
	return out
}

// burst is one step that takes steps 10 seconds apart: all of them before
// the platform's clock reads half a minute after the step.
func burst(steps []step) step {
	if len(steps) == 1 {
		return steps[0]
	}
	steps = slices.Clone(steps)
	return step{do: func(at time.Time) []Message {
		var out []Message
		for i, s := range steps {
			out = append(out, s.do(at.Add(time.Duration(i)*10*time.Second))...)
		}
		return out
	}}
}

// FirstPromoter lifecycles.
const (
	fpStaysPending = iota
	fpApproved
	fpDenied
	fpClawedBack
	fpCreatedApproved
	fpRefused // approved; the platform refuses to mark it fulfilled
	fpKinds
)

// fpAccount is the account the processor derives from the platform's
// commission (the harness rewards the referral for reward 99).
func fpAccount(c simulator.FPCommission) reward.Account {
	r := reward.Promoter(strconv.FormatInt(c.PromoterID, 10))
	if c.RewardID == 99 {
		r = reward.Referral(c.UID, strconv.FormatInt(c.ReferralID, 10))
	}
	return reward.Account{Provider: reward.FirstPromoter, Recipient: r, Unit: reward.Unit(c.Unit)}
}

// fpEvent is a webhook a FirstPromoter step sends: old is the status it
// changes from ("" for none).
type fpEvent struct{ id, typ, old string }

// changeAccount changes what decides c's account: its promoter, its
// referral's uid (gained once) or its unit. With mustMove it changes the
// account itself (a referral reward's promoter does not).
func (g *generator) changeAccount(c *simulator.FPCommission, mustMove bool) {
	for {
		before := fpAccount(*c)
		switch g.rng.IntN(3) {
		case 0:
			c.PromoterID = 1 + (c.PromoterID+int64(g.rng.IntN(4)))%5
		case 1:
			if c.RewardID == 99 && c.UID == "" {
				c.UID = fmt.Sprintf("cust-%d", c.ReferralID)
			}
		case 2:
			c.Unit = map[string]string{"points": "credits", "credits": "points"}[c.Unit]
		}
		if !mustMove || fpAccount(*c) != before {
			return
		}
	}
}

// firstPromoter generates commission id's lifecycle: created, its account
// changed 0-2 times while it is pending, then approved, denied, clawed
// back or left pending; the platform shows each state from the step that
// makes it, and the webhooks follow (some lost). A delivered reward's
// account may change afterwards: that step waits for the ledger to have
// delivered it.
func (g *generator) firstPromoter(id int64) ([]step, []step) {
	rng := g.rng
	c := simulator.FPCommission{ID: id, Status: "pending", Unit: "points", Amount: int64(10 * (1 + rng.IntN(50))), PromoterID: int64(1 + rng.IntN(5)), RewardID: 3}
	if rng.IntN(4) == 0 {
		c.RewardID, c.ReferralID = 99, 100+id
		if rng.IntN(2) == 0 {
			c.UID = fmt.Sprintf("cust-%d", c.ReferralID)
		}
	}
	if rng.IntN(4) == 0 {
		c.Unit = "credits"
	}
	kind := rng.IntN(fpKinds)
	name := strconv.FormatInt(id, 10)
	n := 0
	ev := func(typ, old string) fpEvent {
		n++
		return fpEvent{id: fmt.Sprintf("fp-%d-%d", id, n), typ: typ, old: old}
	}
	var seq []step
	created := false
	add := func(snapshot simulator.FPCommission, events ...fpEvent) {
		seq = append(seq, g.fpStep(snapshot, !created, kind == fpRefused, events, true))
		created = true
	}
	first := fpAccount(c)
	announced := true
	if kind == fpCreatedApproved {
		c.Status = "approved"
		add(c, ev("commission.created", ""))
	} else {
		add(c, ev("commission.created", ""))
		for range []int{0, 0, 0, 1, 2}[rng.IntN(5)] {
			g.changeAccount(&c, false)
			g.want.at(fpAccount(c))
			if fpAccount(c) != first {
				g.want.accountChanged[name] = true
			}
			var events []fpEvent
			if rng.IntN(2) == 0 {
				events = append(events, ev("commission.updated", ""))
			} else {
				announced = false
			}
			add(c, events...)
		}
	}
	approve := func() {
		if c.Status == "approved" {
			return
		}
		c.Status = "approved"
		events := []fpEvent{ev("commission.updated", "pending")}
		if rng.IntN(2) == 0 {
			events = append(events, ev("commission.approved", ""))
		}
		add(c, events...)
	}
	deny := func() {
		old := c.Status
		c.Status = "denied"
		events := []fpEvent{ev("commission.updated", old)}
		if rng.IntN(3) == 0 {
			events = append(events, ev("commission.denied", ""))
		}
		add(c, events...)
	}
	acct := fpAccount(c)
	// A status change has a webhook, and the processor reads the account
	// from the platform then: only a pending commission's silent change
	// can be missed.
	want := fpTruth{account: acct, announced: announced || kind != fpStaysPending}
	switch kind {
	case fpStaysPending:
		want.status = reward.Pending
		g.want.at(acct).pending += c.Amount
	case fpApproved, fpCreatedApproved, fpRefused:
		approve()
		want.status, want.refused = reward.Approved, kind == fpRefused
		t := g.want.at(acct)
		t.available += c.Amount
		if kind != fpRefused {
			t.minFulfilled += c.Amount
			t.maxFulfilled += c.Amount
		}
	case fpDenied:
		deny()
		want.status = reward.Denied
	case fpClawedBack:
		approve()
		deny()
		want.status = reward.Reversed
		t := g.want.at(acct)
		t.maxReversed += c.Amount
		t.maxFulfilled += c.Amount
	}
	g.want.at(first)
	if (kind == fpApproved || kind == fpCreatedApproved) && rng.IntN(5) == 0 {
		after := g.failedDelivery(name, c.Amount, acct, &want)
		g.want.firstPromoter[id] = want
		return seq, after
	}
	g.want.firstPromoter[id] = want
	if (kind != fpApproved && kind != fpCreatedApproved) || rng.IntN(4) != 0 {
		return seq, nil
	}
	// The account changes after the delivery: the reward stays where it
	// was delivered; the change is announced (never lost) and reported.
	g.changeAccount(&c, true)
	g.want.at(fpAccount(c))
	g.want.accountChanged[name] = true
	g.want.keptAfterDelivery[name] = true
	after := g.fpStep(c, false, false, []fpEvent{ev("commission.updated", "")}, false)
	after.ready = func(ctx context.Context) bool {
		stored, err := g.store.Commission(ctx, reward.FirstPromoter, name)
		return err == nil && stored.Status == reward.Approved
	}
	return seq, []step{after}
}

// failedDelivery is the merchant reporting, through the ledger's write as
// the Rewards API does, that its delivery of a delivered reward failed,
// and half the time redelivering it later.
func (g *generator) failedDelivery(name string, amount int64, acct reward.Account, want *fpTruth) []step {
	stored := func(ctx context.Context, ok func(reward.Commission) bool) bool {
		c, err := g.store.Commission(ctx, reward.FirstPromoter, name)
		return err == nil && ok(c)
	}
	fail := step{
		ready: func(ctx context.Context) bool {
			return stored(ctx, func(c reward.Commission) bool { return c.Status == reward.Approved })
		},
		do: func(at time.Time) []Message {
			g.merchant(name, at, func(c reward.Commission, at time.Time) (reward.Change, error) {
				return reward.PlanUndelivered(c, "the merchant's delivery failed", "merchant", at)
			})
			return nil
		},
	}
	if g.rng.IntN(2) == 0 {
		want.undelivered = true
		t := g.want.at(acct)
		t.available -= amount
		t.minFulfilled -= amount
		t.maxFulfilled -= amount
		return []step{fail}
	}
	redeliver := step{
		ready: func(ctx context.Context) bool {
			return stored(ctx, func(c reward.Commission) bool { return c.Undelivered })
		},
		do: func(at time.Time) []Message {
			g.merchant(name, at, func(c reward.Commission, at time.Time) (reward.Change, error) {
				return reward.PlanRedelivered(c, "merchant", at)
			})
			return nil
		},
	}
	return []step{fail, redeliver}
}

// merchant writes a change the merchant asks of a commission, planned from
// the stored state and planned again when another write got in first.
func (g *generator) merchant(name string, at time.Time, plan func(reward.Commission, time.Time) (reward.Change, error)) {
	ctx := context.Background()
	var err error
	for range 50 {
		var cur reward.Commission
		if cur, err = g.store.Commission(ctx, reward.FirstPromoter, name); err != nil {
			continue
		}
		var c reward.Change
		if c, err = plan(cur, at); err != nil || c.Outcome != reward.Applied {
			break
		}
		if err = g.store.Apply(ctx, reward.EventRecord{}, c); err == nil {
			return
		}
	}
	if err != nil {
		g.t.Errorf("commission %s: the merchant's write failed: %v", name, err)
	}
}

// fpStep puts snapshot on the platform (creating it, or changing it in
// place so that what mark_fulfilled recorded stays) and sends events built
// from the platform's commission, each lost at the generator's rate when
// losable.
func (g *generator) fpStep(snapshot simulator.FPCommission, create, refuse bool, events []fpEvent, losable bool) step {
	var send []fpEvent
	for _, e := range events {
		if !losable || g.rng.Float64() >= g.lost {
			send = append(send, e)
		}
	}
	return step{do: func(at time.Time) []Message {
		if create {
			if refuse {
				g.sim.FailFulfilment(snapshot.ID, "the commission has no payout to fulfil")
			}
			c := snapshot
			c.CreatedAt = at
			g.sim.PutCommission(c)
		} else {
			g.sim.UpdateCommission(snapshot.ID, func(c *simulator.FPCommission) {
				c.Status, c.Unit, c.Amount, c.PromoterID, c.UID = snapshot.Status, snapshot.Unit, snapshot.Amount, snapshot.PromoterID, snapshot.UID
			})
		}
		c, _ := g.sim.Commission(snapshot.ID)
		var out []Message
		for _, e := range send {
			d := simulator.FirstPromoterEvent(fpSecret, e.id, e.typ, c, e.old, at)
			out = append(out, Message{Delivery: deliveryOf(d, e.typ)})
		}
		return out
	}}
}

// arMessage is an AgentRef webhook the platform created at at.
func (g *generator) arMessage(msgID, eventType string, data any, at time.Time) []Message {
	d, err := simulator.AgentRefEvent(arSecret, msgID, eventType, data, at)
	if err != nil {
		g.t.Errorf("sign %s: %v", msgID, err)
		return nil
	}
	return []Message{{Delivery: webhook.Delivery{Provider: webhook.AgentRef, EventID: msgID, EventType: eventType, ReceivedAt: at, Body: d.Body}}}
}

func affiliateAccount(id string) reward.Account {
	return reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate(id), Unit: reward.Cash, Currency: "usd"}
}

// AgentRef conversion lifecycles of affiliates never held.
const (
	arPending = iota
	arCreatedApproved
	arPartlyRefunded
	arPendingRefunded
	arApprovedRefunded
	arApprovedLater // approved on the platform, which sends no webhook for it
	arMovedApproved // moved to another affiliate while pending, then approved
	arRejected      // rejected on the platform: no webhook either
	arKinds
)

// conversion generates an AgentRef conversion of aff_1..aff_3: created
// (pending or approved), then refunded in part or whole, approved or
// rejected on the platform (which announces neither), or moved to another
// affiliate before its approval.
func (g *generator) conversion(id string) []step {
	rng := g.rng
	n := rng.IntN(3)
	aff := fmt.Sprintf("aff_%d", 1+n)
	amount := int64(100 * (1 + rng.IntN(30)))
	conv := simulator.Conversion{ID: id, AffiliateID: aff, Amount: amount * 5, Currency: "usd", CommissionAmount: amount, Status: "pending"}
	var seq []step
	put := func(c simulator.Conversion, eventType string) {
		msgID := fmt.Sprintf("msg_%s_%d", id, len(seq)+1)
		seq = append(seq, step{do: func(at time.Time) []Message {
			g.sim.PutConversion(c)
			if eventType == "" {
				return nil
			}
			return g.arMessage(msgID, eventType, map[string]any{"id": c.ID, "affiliateId": c.AffiliateID, "amount": c.Amount, "currency": c.Currency, "commissionAmount": c.CommissionAmount, "status": c.Status}, at)
		}})
	}
	acct := func() *truth { return g.want.at(affiliateAccount(conv.AffiliateID)) }
	switch rng.IntN(arKinds) {
	case arPending:
		put(conv, "conversion.created")
		acct().pending += amount
		g.want.announced[id] = reward.Pending
	case arCreatedApproved:
		conv.Status = "approved"
		put(conv, "conversion.created")
		acct().available += amount
		g.want.announced[id] = reward.Approved
	case arPartlyRefunded:
		conv.Status = "approved"
		put(conv, "conversion.created")
		rest := amount / 2
		conv.Status, conv.CommissionAmount = "partially_refunded", rest
		put(conv, "conversion.refunded")
		acct().available += rest
		acct().maxReversed += amount - rest
		g.want.announced[id] = reward.Approved
	case arPendingRefunded:
		put(conv, "conversion.created")
		conv.Status, conv.CommissionAmount = "refunded", 0
		put(conv, "conversion.refunded")
		acct()
		g.want.announced[id] = reward.Denied
	case arApprovedRefunded:
		conv.Status = "approved"
		put(conv, "conversion.created")
		conv.Status, conv.CommissionAmount = "refunded", 0
		put(conv, "conversion.refunded")
		acct().maxReversed += amount
		g.want.announced[id] = reward.Reversed
	case arApprovedLater:
		put(conv, "conversion.created")
		conv.Status = "approved"
		put(conv, "")
		acct().available += amount
	case arMovedApproved:
		put(conv, "conversion.created")
		acct()
		conv.AffiliateID = fmt.Sprintf("aff_%d", 1+(n+1+rng.IntN(2))%3)
		conv.Status = "approved"
		put(conv, "")
		acct().available += amount
		g.want.accountChanged[id] = true
	case arRejected:
		put(conv, "conversion.created")
		conv.Status = "rejected"
		put(conv, "")
		acct()
	}
	return seq
}

// payout generates an AgentRef payout of aff_1..aff_3 that completes or
// fails 1-4 times, a step apart by the platform's clock (a failure, then
// the retry's completion...). The platform keeps its creation time and its
// last completion's. Ground truth: a payout whose last word is completed is
// debited once, a failed one not at all.
func (g *generator) payout(id string) []step {
	rng := g.rng
	aff := fmt.Sprintf("aff_%d", 1+rng.IntN(3))
	amount := int64(10 * (1 + rng.IntN(20)))
	var created, completed *time.Time
	var seq []step
	status := ""
	for w := range 1 + rng.IntN(4) {
		status = []string{"completed", "failed"}[rng.IntN(2)]
		status := status
		msgID := fmt.Sprintf("msg_%s_%d_%s", id, w, status)
		seq = append(seq, step{do: func(at time.Time) []Message {
			if created == nil {
				created = &at
			}
			if status == "completed" {
				completed = &at
			}
			g.sim.PutPayout(simulator.Payout{ID: id, AffiliateID: aff, Amount: amount, Currency: "usd", Status: status, Method: "paypal", CreatedAt: *created, CompletedAt: completed})
			g.words.add("payout:"+id, at, status)
			return g.arMessage(msgID, "payout."+status, map[string]any{"id": id, "affiliateId": aff, "amount": amount, "currency": "usd", "status": status}, at)
		}})
	}
	t := g.want.at(affiliateAccount(aff))
	if status == "completed" {
		t.available -= amount
	}
	g.want.payouts[id] = reward.Payout{Status: reward.PayoutStatus(status), Amount: amount}
	return seq
}

// heldAffiliate generates an affiliate blocked, unblocked and flagged 1-4
// times (the webhooks reordered and repeated like any other) with 1-2
// conversions created pending; once its holds are done the platform
// approves them (no webhook), and then an affiliate still held may be
// released. Ground truth: the hold is the newest event's; the approvals
// have posted if the affiliate ends unheld, and are still pending if not.
func (g *generator) heldAffiliate(aff string) (holds []step, creations [][]step, approvals, release []step) {
	rng := g.rng
	g.sim.PutAffiliate(simulator.Affiliate{ID: aff, Status: "approved"})
	blocked, held := false, false
	n := 0
	// hold is a step that changes the platform and says held or not (a
	// dismissed flag says nothing).
	hold := func(eventType string, data map[string]any, change func(at time.Time), says ...bool) step {
		n++
		msgID := fmt.Sprintf("msg_%s_%d", aff, n)
		return step{do: func(at time.Time) []Message {
			change(at)
			for _, held := range says {
				g.words.add("hold:"+aff, at, strconv.FormatBool(held))
			}
			return g.arMessage(msgID, eventType, data, at)
		}}
	}
	setStatus := func(status string) func(time.Time) {
		return func(time.Time) { g.sim.PutAffiliate(simulator.Affiliate{ID: aff, Status: status}) }
	}
	unblock := func() step {
		blocked, held = false, false
		return hold("affiliate.unblocked", map[string]any{"id": aff, "status": "approved"}, setStatus("approved"), false)
	}
	for range 1 + rng.IntN(4) {
		switch r := rng.IntN(4); {
		case r == 0 && !blocked:
			blocked, held = true, true
			holds = append(holds, hold("affiliate.blocked", map[string]any{"id": aff, "status": "blocked"}, setStatus("blocked"), true))
		case r <= 1 && held:
			holds = append(holds, unblock())
		default:
			status, says := "confirmed", []bool{true}
			if r == 3 {
				status, says = "dismissed", nil
			} else {
				held = true
			}
			flag := fmt.Sprintf("flag_%s_%d", aff, n+1)
			holds = append(holds, hold("flag.resolved", map[string]any{"id": flag, "affiliateId": aff, "type": "self_referral", "status": status}, func(at time.Time) {
				g.sim.PutFlag(simulator.Flag{ID: flag, AffiliateID: aff, Type: "self_referral", Status: status, CreatedAt: at.Add(-time.Hour), ResolvedAt: &at})
			}, says...))
		}
	}
	if held && rng.IntN(2) == 0 {
		release = []step{unblock()}
	}
	g.want.held[aff] = held
	acct := g.want.at(affiliateAccount(aff))
	for i := range 1 + rng.IntN(2) {
		id := fmt.Sprintf("conv_%s_%d", aff, i)
		amount := int64(100 * (1 + rng.IntN(30)))
		c := simulator.Conversion{ID: id, AffiliateID: aff, Amount: amount * 5, Currency: "usd", CommissionAmount: amount, Status: "pending"}
		creations = append(creations, []step{{do: func(at time.Time) []Message {
			c.CreatedAt = at
			g.sim.PutConversion(c)
			return g.arMessage("msg_"+id, "conversion.created", map[string]any{"id": id, "affiliateId": aff, "amount": c.Amount, "currency": "usd", "commissionAmount": amount, "status": "pending"}, at)
		}}})
		approvals = append(approvals, step{do: func(time.Time) []Message {
			approved := c
			approved.Status = "approved"
			g.sim.PutConversion(approved)
			return nil
		}})
		if held {
			acct.pending += amount
			g.want.heldConversions++
		} else {
			acct.available += amount
		}
	}
	return holds, creations, approvals, release
}
