package reward

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var payee = Account{Provider: AgentRef, Recipient: Affiliate("a1"), Unit: Cash, Currency: "usd"}

// word is one thing the platform says about payout p1: its status at a
// time of its clock.
type word struct {
	status PayoutStatus
	at     time.Duration // after the test's epoch
}

func (w word) intent(id string) PayoutIntent {
	return PayoutIntent{Provider: AgentRef, PayoutID: "p1", EventID: id, Account: payee, Amount: 900, Status: w.status, StatusAt: at.Add(w.at), At: at}
}

// deliver plans and "stores" the words in the order given, as the processor
// would, and returns the final payout and every entry written.
func deliver(t *testing.T, words []word) (*Payout, []Entry) {
	t.Helper()
	var cur *Payout
	var entries []Entry
	for i, w := range words {
		c, err := PlanPayout(cur, w.intent(fmt.Sprint("e", i)))
		if err != nil {
			t.Fatal(err)
		}
		if c.Outcome == Applied {
			after := c.After
			cur = &after
			entries = append(entries, c.Entries...)
		} else if len(c.Entries) != 0 {
			t.Fatalf("a %s plan carries entries: %+v", c.Outcome, c.Entries)
		}
	}
	return cur, entries
}

func permutations(words []word) [][]word {
	if len(words) <= 1 {
		return [][]word{words}
	}
	var out [][]word
	for i := range words {
		rest := append(append([]word{}, words[:i]...), words[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]word{words[i]}, p...))
		}
	}
	return out
}

func debited(entries []Entry) int64 {
	var d int64
	for _, e := range entries {
		d -= e.Deltas.Available
	}
	return d
}

// A payout's last word, by the platform's clock, decides whether it is
// debited, whatever order its events arrive in and however often.
func TestPayoutLastWordWinsInAnyOrder(t *testing.T) {
	completed := func(m time.Duration) word { return word{PayoutCompleted, m * time.Minute} }
	failed := func(m time.Duration) word { return word{PayoutFailed, m * time.Minute} }
	for _, tt := range []struct {
		name  string
		words []word
		want  PayoutStatus
	}{
		{"failed, then retried and completed", []word{failed(1), completed(2)}, PayoutCompleted},
		{"completed, then failed", []word{completed(1), failed(2)}, PayoutFailed},
		{"completed, failed, completed again", []word{completed(1), failed(2), completed(3)}, PayoutCompleted},
		{"failed twice, completed between and after", []word{failed(1), completed(2), failed(3), completed(4)}, PayoutCompleted},
		{"completed twice, then failed", []word{completed(1), completed(2), failed(3)}, PayoutFailed},
		{"completed and failed at one time", []word{completed(1), failed(1)}, PayoutFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var want int64
			if tt.want == PayoutCompleted {
				want = 900
			}
			for _, order := range permutations(tt.words) {
				// Each word delivered twice in a row: the second is a duplicate.
				var twice []word
				for _, w := range order {
					twice = append(twice, w, w)
				}
				for _, seq := range [][]word{order, twice} {
					p, entries := deliver(t, seq)
					if p.Status != tt.want || debited(entries) != want {
						t.Errorf("delivered %v: status %s, debited %d; want %s, %d", seq, p.Status, debited(entries), tt.want, want)
					}
					if v := AuditPayouts(entries, []Payout{*p}); len(v) > 0 {
						t.Errorf("delivered %v: %v", seq, v)
					}
				}
			}
		})
	}
}

func TestPayoutRetriedIsDebitedOncePerCompletedAttempt(t *testing.T) {
	_, entries := deliver(t, []word{{PayoutFailed, 1}, {PayoutCompleted, 2}, {PayoutFailed, 3}, {PayoutCompleted, 4}})
	var ids []string
	for _, e := range entries {
		ids = append(ids, fmt.Sprintf("%s %d", e.ID, e.Deltas.Available))
	}
	want := "agentref#payout:p1#payout#1 -900, agentref#payout:p1#payout_failed#1 900, agentref#payout:p1#payout#2 -900"
	if got := strings.Join(ids, ", "); got != want {
		t.Errorf("entries %s, want %s", got, want)
	}
}

func TestPayoutStaleWordsChangeNothing(t *testing.T) {
	cur := &Payout{Provider: AgentRef, ID: "p1", Account: payee, Amount: 900, Status: PayoutCompleted, Attempts: 1, StatusAt: at.Add(time.Hour), Version: 2}
	old := PayoutIntent{Provider: AgentRef, PayoutID: "p1", EventID: "e", Account: payee, Amount: 900, Status: PayoutFailed, StatusAt: at, At: at}
	c, err := PlanPayout(cur, old)
	if err != nil || c.Outcome != Stale || c.Reason == "" || len(c.Entries) != 0 || c.After != *cur {
		t.Errorf("an older failure: %+v %v", c, err)
	}
	later := old
	later.Status, later.StatusAt = PayoutCompleted, at.Add(2*time.Hour)
	c, _ = PlanPayout(cur, later)
	if c.Outcome != Applied || len(c.Entries) != 0 || !c.After.StatusAt.Equal(later.StatusAt) || c.After.Attempts != 1 {
		t.Errorf("the same status said later must move the time only: %+v", c)
	}
}

// A listing is the platform's state now: it holds over the ledger's newer
// events, never debits a completed payout twice and never moves the ledger's
// time back.
func TestPayoutListingConvergesToThePlatform(t *testing.T) {
	completedAt := at.Add(time.Hour)
	done := Payout{Provider: AgentRef, ID: "p1", Account: payee, Amount: 900, Status: PayoutCompleted, Attempts: 1, StatusAt: completedAt, Version: 1}
	failedNow := PayoutIntent{Provider: AgentRef, PayoutID: "p1", Account: payee, Amount: 900, Status: PayoutFailed, StatusAt: at, Current: true, At: at}
	c, err := PlanPayout(&done, failedNow)
	if err != nil || c.Outcome != Applied || debited(c.Entries) != -900 || c.After.Status != PayoutFailed || !c.After.StatusAt.Equal(completedAt) {
		t.Errorf("listed failed over a completed payout: %+v %v", c, err)
	}
	completedNow := failedNow
	completedNow.Status = PayoutCompleted
	if c, _ := PlanPayout(&done, completedNow); c.Outcome != Duplicate {
		t.Errorf("listed completed over a completed payout: %s", c.Outcome)
	}
	retried := c.After
	retried.StatusAt = at.Add(2 * time.Hour)
	c, _ = PlanPayout(&retried, completedNow)
	if c.Outcome != Applied || debited(c.Entries) != 900 || c.After.Attempts != 2 {
		t.Errorf("listed completed over a failed payout: %+v", c)
	}
	if c, _ := PlanPayout(nil, failedNow); c.Outcome != Applied || len(c.Entries) != 0 {
		t.Errorf("listed failed, never seen: %+v", c)
	}
}

func TestAuditPayouts(t *testing.T) {
	p := Payout{Provider: AgentRef, ID: "p1", Account: payee, Amount: 900, Status: PayoutFailed, Attempts: 1}
	debit := Entry{ID: "agentref#payout:p1#payout#1", Account: payee, Subject: "payout:p1", Kind: KindPayout, Deltas: Deltas{Available: -900}}
	if v := AuditPayouts([]Entry{debit}, []Payout{p}); len(v) != 1 || !strings.Contains(v[0].Problem, "status failed") {
		t.Errorf("a failed payout left debited: %v", v)
	}
	p.Status = PayoutCompleted
	if v := AuditPayouts([]Entry{debit}, []Payout{p}); len(v) != 0 {
		t.Errorf("a completed payout debited once: %v", v)
	}
}
