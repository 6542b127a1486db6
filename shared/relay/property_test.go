package relay

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/fake"
	"github.com/rewardrelay/rewardrelay/shared/reward"
	"github.com/rewardrelay/rewardrelay/shared/simulator"
)

// truth is what the ledger must show for one recipient account.
type truth struct {
	pending, available int64
	maxReversed        int64
}

// scenario builds random lifecycles on the simulator and the events they
// produce, and the ground truth the ledger must end with.
type scenario struct {
	events []Message
	want   map[reward.Account]*truth
	// approved are FirstPromoter commissions whose reward must be
	// acknowledged on the platform.
	approved []int64
}

func buildScenario(t testing.TB, h *harness, rng *rand.Rand, nFP, nAR int) scenario {
	s := scenario{want: map[reward.Account]*truth{}}
	at := func(a reward.Account) *truth {
		if s.want[a] == nil {
			s.want[a] = &truth{}
		}
		return s.want[a]
	}
	for i := 1; i <= nFP; i++ {
		id := int64(i)
		promoter := int64(1 + rng.IntN(5))
		amount := int64(10 * (1 + rng.IntN(50)))
		acct := reward.Account{Provider: reward.FirstPromoter, Recipient: reward.Promoter(strconv.FormatInt(promoter, 10)), Unit: reward.Points}
		c := simulator.FPCommission{ID: id, Status: "pending", Unit: "points", Amount: amount, PromoterID: promoter, RewardID: 3, CreatedAt: t0}
		ev := func(name, typ, old string) {
			d := simulator.FirstPromoterEvent(fpSecret, name, typ, c, old, t0)
			s.events = append(s.events, Message{Delivery: deliveryOf(d, typ)})
		}
		ev(fmt.Sprintf("fp-%d-created", id), "commission.created", "")
		switch rng.IntN(4) {
		case 0: // stays pending
			at(acct).pending += amount
		case 1: // approved (also announced under the status-named event)
			c.Status = "approved"
			ev(fmt.Sprintf("fp-%d-approved", id), "commission.updated", "pending")
			if rng.IntN(2) == 0 {
				ev(fmt.Sprintf("fp-%d-approved-alias", id), "commission.approved", "")
			}
			at(acct).available += amount
			s.approved = append(s.approved, id)
		case 2: // denied while pending
			c.Status = "denied"
			ev(fmt.Sprintf("fp-%d-denied", id), "commission.updated", "pending")
		case 3: // approved, then denied (clawback)
			c.Status = "approved"
			ev(fmt.Sprintf("fp-%d-approved", id), "commission.updated", "pending")
			c.Status = "denied"
			ev(fmt.Sprintf("fp-%d-denied", id), "commission.updated", "approved")
			at(acct).maxReversed += amount
		}
		h.sim.PutCommission(c) // the platform shows the final state
	}
	for i := 1; i <= nAR; i++ {
		id := fmt.Sprintf("conv_%d", i)
		aff := fmt.Sprintf("aff_%d", 1+rng.IntN(3))
		acct := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate(aff), Unit: reward.Cash, Currency: "usd"}
		amount := int64(100 * (1 + rng.IntN(30)))
		conv := func(status string, commission int64) map[string]any {
			return map[string]any{"id": id, "affiliateId": aff, "amount": amount * 5, "currency": "usd", "commissionAmount": commission, "status": status}
		}
		add := func(name, typ string, data any) {
			s.events = append(s.events, h.arEvent(t, name, typ, data))
		}
		switch rng.IntN(5) {
		case 0:
			add(id+"-created", "conversion.created", conv("pending", amount))
			at(acct).pending += amount
		case 1:
			add(id+"-created", "conversion.created", conv("approved", amount))
			at(acct).available += amount
		case 2:
			rest := amount / 2
			add(id+"-created", "conversion.created", conv("approved", amount))
			add(id+"-refund", "conversion.refunded", conv("partially_refunded", rest))
			at(acct).available += rest
			at(acct).maxReversed += amount - rest
		case 3:
			add(id+"-created", "conversion.created", conv("pending", amount))
			add(id+"-refund", "conversion.refunded", conv("refunded", 0))
		case 4:
			add(id+"-created", "conversion.created", conv("approved", amount))
			add(id+"-refund", "conversion.refunded", conv("refunded", 0))
			at(acct).maxReversed += amount
		}
	}
	return s
}

// buildPayouts adds AgentRef payouts that fail and are retried: each says
// completed or failed 1-4 times, a minute apart by the platform's clock, and
// the queue delivers them in any order (a failure before the completion it
// follows, a completion after its retry's failure). Ground truth: a payout
// whose last word is completed is debited once, a failed one not at all.
func buildPayouts(t testing.TB, h *harness, rng *rand.Rand, s *scenario, n int) {
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("po_%d", i)
		aff := fmt.Sprintf("aff_%d", 1+rng.IntN(3))
		acct := reward.Account{Provider: reward.AgentRef, Recipient: reward.Affiliate(aff), Unit: reward.Cash, Currency: "usd"}
		amount := int64(10 * (1 + rng.IntN(20)))
		status := ""
		for w := range 1 + rng.IntN(4) {
			status = []string{"completed", "failed"}[rng.IntN(2)]
			data := map[string]any{"id": id, "affiliateId": aff, "amount": amount, "status": status}
			at := t0.Add(time.Duration(i)*time.Hour + time.Duration(w)*time.Minute)
			s.events = append(s.events, h.arEventAt(t, fmt.Sprintf("%s-%d-%s", id, w, status), "payout."+status, data, at))
		}
		if s.want[acct] == nil {
			s.want[acct] = &truth{}
		}
		if status == "completed" {
			s.want[acct].available -= amount
		}
	}
}

// deliveries shuffles the events, repeats each 1-3 times and cuts them into
// random batches of 1-10, as the queue would.
func deliveries(rng *rand.Rand, events []Message) [][]Message {
	var all []Message
	for _, e := range events {
		for range 1 + rng.IntN(3) {
			all = append(all, e)
		}
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	var batches [][]Message
	for len(all) > 0 {
		n := min(1+rng.IntN(10), len(all))
		batch := append([]Message(nil), all[:n]...)
		for i := range batch {
			batch[i].ID = fmt.Sprintf("q-%d-%d", len(batches), i)
		}
		batches = append(batches, batch)
		all = all[n:]
	}
	return batches
}

func checkTruth(t *testing.T, h *harness, s scenario) {
	t.Helper()
	l, err := h.store.Ledger(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v := l.Audit(); len(v) > 0 {
		t.Errorf("audit: %v", v)
	}
	got := map[reward.Account]reward.Deltas{}
	for _, b := range l.Balances {
		got[b.Account] = b.Deltas
	}
	for a, w := range s.want {
		g := got[a]
		if g.Pending != w.pending || g.Available != w.available || g.Reversed > w.maxReversed {
			t.Errorf("%s: pending %d available %d reversed %d; want pending %d available %d reversed <= %d", a, g.Pending, g.Available, g.Reversed, w.pending, w.available, w.maxReversed)
		}
	}
	for a, g := range got {
		if s.want[a] == nil && g != (reward.Deltas{}) {
			t.Errorf("%s has %+v but no commission", a, g)
		}
	}
}

func runProperty(t *testing.T, h *harness, seed uint64, nFP, nAR int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := buildScenario(t, h, rng, nFP, nAR)
	buildPayouts(t, h, rng, &s, nAR/2)
	for _, batch := range deliveries(rng, s.events) {
		// A failed message is redelivered by the queue: retry it.
		for try := 0; len(batch) > 0; try++ {
			if try > 5 {
				t.Fatalf("messages keep failing: %v\n%s", batch, h.logs)
			}
			res := h.p.Process(t.Context(), batch)
			failed := map[string]bool{}
			for _, id := range res.Failed {
				failed[id] = true
			}
			var again []Message
			for _, m := range batch {
				if failed[m.ID] {
					again = append(again, m)
				}
			}
			batch = again
		}
	}
	checkTruth(t, h, s)
	for _, id := range s.approved {
		if c, _ := h.sim.Commission(id); !c.Fulfilled && c.Status == "approved" {
			// Acknowledgement is best effort in the processor; the outbox must
			// then hold it for the reconciler.
			stored, err := h.store.Commission(t.Context(), reward.FirstPromoter, strconv.FormatInt(id, 10))
			if err != nil || (stored.Fulfilment != reward.Requested && stored.Fulfilment != reward.Failed) {
				t.Errorf("commission %d delivered but neither acknowledged nor in the outbox: %+v", id, stored)
			}
		}
	}
}

// TestPropertyAgainstDynamoDBLocal: random lifecycles, every event delivered
// 1-3 times in random order across random batches, against the real store.
func TestPropertyAgainstDynamoDBLocal(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	h := newHarness(t)
	runProperty(t, h, seed, 60, 40)
}

// TestPropertyAgainstTheFake runs many more seeds against the in-memory store.
func TestPropertyAgainstTheFake(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h := newHarness(t)
			h.store = fake.NewStore()
			h.p.Store = h.store
			runProperty(t, h, seed, 80, 60)
		})
	}
}
