package reward

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var at = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

var acct = Account{Provider: FirstPromoter, Recipient: Promoter("12"), Unit: Points}

func intent(target Target, amount int64) Intent {
	return Intent{Provider: FirstPromoter, CommissionID: "7", EventID: "e", Target: target, Account: acct, Amount: amount, Acknowledge: true, At: at}
}

func stored(status Status, amount, refunded int64) *Commission {
	return &Commission{Provider: FirstPromoter, ID: "7", Account: acct, Amount: amount, Refunded: refunded, Status: status, Version: 3}
}

func TestPlanEveryStateAndTarget(t *testing.T) {
	tests := []struct {
		name      string
		cur       *Commission
		in        Intent
		outcome   Outcome
		status    Status
		deltas    Deltas
		entryIDs  []string
		delivered bool
	}{
		// From nothing: out-of-order events apply from the data they carry.
		{"new pending", nil, intent(TargetPending, 500), Applied, Pending, Deltas{Pending: 500}, []string{"firstpromoter#commission:7#pending"}, false},
		{"approved before created", nil, intent(TargetApproved, 500), Applied, Approved, Deltas{Available: 500}, []string{"firstpromoter#commission:7#post"}, true},
		{"denied before created", nil, intent(TargetDenied, 500), Applied, Denied, Deltas{}, nil, false},
		{"full refund before created", nil, intent(TargetRefunded, 0), Applied, Denied, Deltas{}, nil, false},
		{"partial refund before created", nil, intent(TargetRefunded, 300), Applied, Approved, Deltas{Available: 300}, []string{"firstpromoter#commission:7#post"}, true},
		// From pending.
		{"pending again", stored(Pending, 500, 0), intent(TargetPending, 500), Duplicate, Pending, Deltas{}, nil, false},
		{"pending with another amount", stored(Pending, 500, 0), intent(TargetPending, 600), Stale, Pending, Deltas{}, nil, false},
		{"approve", stored(Pending, 500, 0), intent(TargetApproved, 500), Applied, Approved, Deltas{Pending: -500, Available: 500}, []string{"firstpromoter#commission:7#post"}, true},
		{"approve after a partial refund", stored(Pending, 500, 200), intent(TargetApproved, 300), Applied, Approved, Deltas{Pending: -300, Available: 300}, []string{"firstpromoter#commission:7#post"}, true},
		{"late approval with the amount before a refund", stored(Pending, 500, 200), intent(TargetApproved, 500), Applied, Approved, Deltas{Pending: -300, Available: 300}, []string{"firstpromoter#commission:7#post"}, true},
		{"deny", stored(Pending, 500, 0), intent(TargetDenied, 500), Applied, Denied, Deltas{Pending: -500}, []string{"firstpromoter#commission:7#void#0"}, false},
		{"partial refund while pending", stored(Pending, 500, 0), intent(TargetRefunded, 400), Applied, Approved, Deltas{Pending: -500, Available: 400}, []string{"firstpromoter#commission:7#void#400", "firstpromoter#commission:7#post"}, true},
		{"full refund while pending", stored(Pending, 500, 100), intent(TargetRefunded, 0), Applied, Denied, Deltas{Pending: -400}, []string{"firstpromoter#commission:7#void#0"}, false},
		{"partial refund already voided", stored(Pending, 500, 100), intent(TargetRefunded, 400), Applied, Approved, Deltas{Pending: -400, Available: 400}, []string{"firstpromoter#commission:7#post"}, true},
		// From approved (delivered).
		{"pending after delivery", stored(Approved, 500, 0), intent(TargetPending, 500), Stale, Approved, Deltas{}, nil, false},
		{"approved again (another event id)", stored(Approved, 500, 0), intent(TargetApproved, 500), Duplicate, Approved, Deltas{}, nil, false},
		{"denied after delivery", stored(Approved, 500, 0), intent(TargetDenied, 500), Applied, Reversed, Deltas{Available: -500, Reversed: 500}, []string{"firstpromoter#commission:7#reverse#0"}, false},
		{"partial refund after delivery", stored(Approved, 500, 0), intent(TargetRefunded, 350), Applied, Approved, Deltas{Available: -150, Reversed: 150}, []string{"firstpromoter#commission:7#reverse#350"}, false},
		{"second partial refund", stored(Approved, 500, 150), intent(TargetRefunded, 100), Applied, Approved, Deltas{Available: -250, Reversed: 250}, []string{"firstpromoter#commission:7#reverse#100"}, false},
		{"full refund after a partial one", stored(Approved, 500, 150), intent(TargetRefunded, 0), Applied, Reversed, Deltas{Available: -350, Reversed: 350}, []string{"firstpromoter#commission:7#reverse#0"}, false},
		{"denied after a partial refund", stored(Approved, 500, 150), intent(TargetDenied, 350), Applied, Reversed, Deltas{Available: -350, Reversed: 350}, []string{"firstpromoter#commission:7#reverse#0"}, false},
		// From the end states.
		{"denied then approved", stored(Denied, 500, 500), intent(TargetApproved, 500), Stale, Denied, Deltas{}, nil, false},
		{"denied then pending", stored(Denied, 500, 500), intent(TargetPending, 500), Stale, Denied, Deltas{}, nil, false},
		{"denied twice", stored(Denied, 500, 500), intent(TargetDenied, 500), Duplicate, Denied, Deltas{}, nil, false},
		{"refund after denial", stored(Denied, 500, 500), intent(TargetRefunded, 0), Duplicate, Denied, Deltas{}, nil, false},
		{"reversed then approved", stored(Reversed, 500, 500), intent(TargetApproved, 500), Stale, Reversed, Deltas{}, nil, false},
		{"reversed then denied", stored(Reversed, 500, 500), intent(TargetDenied, 500), Duplicate, Reversed, Deltas{}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Plan(tt.cur, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if c.Outcome != tt.outcome || c.After.Status != tt.status || c.Delivered != tt.delivered {
				t.Errorf("outcome %s, status %s, delivered %v; want %s, %s, %v (%s)", c.Outcome, c.After.Status, c.Delivered, tt.outcome, tt.status, tt.delivered, c.Reason)
			}
			if got := c.Deltas(); got != tt.deltas {
				t.Errorf("deltas %+v, want %+v", got, tt.deltas)
			}
			var ids []string
			for _, e := range c.Entries {
				ids = append(ids, e.ID)
			}
			if diff := cmp.Diff(tt.entryIDs, ids); diff != "" {
				t.Errorf("entry ids (-want +got):\n%s", diff)
			}
			wantVersion := int64(0)
			if tt.cur != nil {
				wantVersion = tt.cur.Version
			}
			if c.Outcome == Applied {
				wantVersion++
			}
			if c.After.Version != wantVersion {
				t.Errorf("version %d, want %d", c.After.Version, wantVersion)
			}
			if tt.delivered && c.After.Fulfilment != Requested {
				t.Errorf("delivered without entering the fulfilment outbox")
			}
			if c.Outcome == Stale && c.Reason == "" {
				t.Errorf("stale without a reason")
			}
			// Whatever happened, the result must pass the audit on its own.
			if c.Outcome == Applied && tt.cur == nil {
				bal := []Balance{{Account: acct, Deltas: c.Deltas()}}
				if v := Audit(c.Entries, bal, []Commission{c.After}); len(v) > 0 {
					t.Errorf("audit: %v", v)
				}
			}
		})
	}
}

func TestPlanHolds(t *testing.T) {
	held := intent(TargetApproved, 500)
	held.Held = true
	c, err := Plan(nil, held)
	if err != nil {
		t.Fatal(err)
	}
	if c.After.Status != Pending || !c.After.HeldApproval || c.Delivered || c.Deltas() != (Deltas{Pending: 500}) {
		t.Errorf("approval of a held recipient: %+v deltas %+v; want a pending credit only", c.After, c.Deltas())
	}
	c, _ = Plan(stored(Pending, 500, 0), held)
	if c.Outcome != Applied || !c.After.HeldApproval || len(c.Entries) != 0 {
		t.Errorf("held approval of a pending commission: %+v", c)
	}
	again, _ := Plan(&c.After, held)
	if again.Outcome != Duplicate {
		t.Errorf("held approval twice: %s", again.Outcome)
	}
	released, _ := Plan(&c.After, intent(TargetApproved, 500))
	if released.Outcome != Applied || released.After.Status != Approved || released.After.HeldApproval {
		t.Errorf("approval after release: %+v", released.After)
	}
}

func TestPlanMovesAPendingCreditToTheIntentsAccount(t *testing.T) {
	moved := Account{Provider: FirstPromoter, Recipient: Promoter("13"), Unit: Points}
	to := func(in Intent) Intent { in.Account = moved; return in }
	movedTwice := stored(Pending, 500, 0)
	movedTwice.Moves = 1
	for _, tt := range []struct {
		name     string
		cur      *Commission
		in       Intent
		outcome  Outcome
		status   Status
		entryIDs []string
		account  Account
		moves    int64
		change   *AccountChange
	}{
		{"approved in another account", stored(Pending, 500, 0), to(intent(TargetApproved, 500)), Applied, Approved,
			[]string{"firstpromoter#commission:7#move#1#void", "firstpromoter#commission:7#move#1#pending", "firstpromoter#commission:7#post"}, moved, 1,
			&AccountChange{From: acct, To: moved, Moved: true}},
		{"still pending, in another account", stored(Pending, 500, 0), to(intent(TargetPending, 500)), Applied, Pending,
			[]string{"firstpromoter#commission:7#move#1#void", "firstpromoter#commission:7#move#1#pending"}, moved, 1,
			&AccountChange{From: acct, To: moved, Moved: true}},
		{"a second move has entries of its own", movedTwice, to(intent(TargetPending, 500)), Applied, Pending,
			[]string{"firstpromoter#commission:7#move#2#void", "firstpromoter#commission:7#move#2#pending"}, moved, 2,
			&AccountChange{From: acct, To: moved, Moved: true}},
		{"denied in another account", stored(Pending, 500, 100), to(intent(TargetDenied, 400)), Applied, Denied,
			[]string{"firstpromoter#commission:7#move#1#void", "firstpromoter#commission:7#move#1#pending", "firstpromoter#commission:7#void#0"}, moved, 1,
			&AccountChange{From: acct, To: moved, Moved: true}},
		{"delivered: stays", stored(Approved, 500, 0), to(intent(TargetApproved, 500)), Duplicate, Approved, nil, acct, 0,
			&AccountChange{From: acct, To: moved}},
		{"refunded after delivery: reversed where delivered", stored(Approved, 500, 0), to(intent(TargetRefunded, 200)), Applied, Approved,
			[]string{"firstpromoter#commission:7#reverse#200"}, acct, 0, &AccountChange{From: acct, To: moved}},
		{"stale: its account says nothing", stored(Pending, 500, 0), to(intent(TargetPending, 600)), Stale, Pending, nil, acct, 0, nil},
		{"denied: nothing anywhere", stored(Denied, 500, 500), to(intent(TargetDenied, 500)), Duplicate, Denied, nil, acct, 0, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Plan(tt.cur, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if c.Outcome != tt.outcome || c.After.Status != tt.status || c.After.Account != tt.account || c.After.Moves != tt.moves {
				t.Errorf("outcome %s, status %s, account %s, moves %d; want %s, %s, %s, %d", c.Outcome, c.After.Status, c.After.Account, c.After.Moves, tt.outcome, tt.status, tt.account, tt.moves)
			}
			if diff := cmp.Diff(tt.change, c.AccountChange); diff != "" {
				t.Errorf("account change (-want +got):\n%s", diff)
			}
			var ids []string
			for _, e := range c.Entries {
				ids = append(ids, e.ID)
			}
			if diff := cmp.Diff(tt.entryIDs, ids); diff != "" {
				t.Errorf("entry ids (-want +got):\n%s", diff)
			}
			if c.Outcome != Applied {
				return
			}
			// The commission's earlier entries in its first account, then
			// the change: the audit must find nothing.
			history := []Entry{{ID: "firstpromoter#commission:7#pending", Account: acct, Subject: "commission:7", Kind: KindPending, Deltas: Deltas{Pending: tt.cur.Amount}}}
			if tt.cur.Status == Approved {
				history[0].Kind, history[0].Deltas = KindPost, Deltas{Available: tt.cur.Amount}
			}
			if tt.cur.Refunded > 0 {
				history = append(history, Entry{ID: "firstpromoter#commission:7#void#400", Account: acct, Subject: "commission:7", Kind: KindVoid, Deltas: Deltas{Pending: -tt.cur.Refunded}})
			}
			if tt.cur.Moves > 0 {
				// It moved away and back before.
				history = append(history,
					Entry{ID: "m1", Account: acct, Subject: "commission:7", Deltas: Deltas{Pending: -tt.cur.Amount}},
					Entry{ID: "m2", Account: moved, Subject: "commission:7", Deltas: Deltas{Pending: tt.cur.Amount}},
					Entry{ID: "m3", Account: moved, Subject: "commission:7", Deltas: Deltas{Pending: -tt.cur.Amount}},
					Entry{ID: "m4", Account: acct, Subject: "commission:7", Deltas: Deltas{Pending: tt.cur.Amount}})
			}
			all := append(history, c.Entries...)
			sums := map[Account]Deltas{}
			for _, e := range all {
				sums[e.Account] = sums[e.Account].Add(e.Deltas)
			}
			var bal []Balance
			for a, d := range sums {
				bal = append(bal, Balance{Account: a, Deltas: d})
				if a != c.After.Account && d != (Deltas{}) {
					t.Errorf("%s keeps %+v", a, d)
				}
			}
			if v := Audit(all, bal, []Commission{c.After}); len(v) > 0 {
				t.Errorf("audit: %v", v)
			}
		})
	}
}

func TestPlanRefusesInvalidIntents(t *testing.T) {
	bad := []Intent{
		{Provider: FirstPromoter, Target: TargetPending, Account: acct, Amount: 1},
		func() Intent { i := intent(TargetPending, -1); return i }(),
		func() Intent { i := intent(TargetPending, 1); i.Account.Recipient = "someone"; return i }(),
		func() Intent { i := intent(TargetPending, 1); i.Account.Unit = ""; return i }(),
		func() Intent { i := intent("paid", 1); return i }(),
	}
	for i, in := range bad {
		if _, err := Plan(nil, in); !errors.Is(err, ErrInvalid) {
			t.Errorf("intent %d: got %v, want ErrInvalid", i, err)
		}
	}
	other := stored(Pending, 1, 0)
	other.ID = "8"
	if _, err := Plan(other, intent(TargetApproved, 1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("planning against another commission: got %v", err)
	}
}

func TestAcknowledge(t *testing.T) {
	c, err := Acknowledge(*stored(Approved, 500, 0), "ack", at)
	if err != nil {
		t.Fatal(err)
	}
	if c.After.Fulfilment != Acknowledged || c.Deltas() != (Deltas{Fulfilled: 500}) || c.Entries[0].ID != "firstpromoter#commission:7#ack" {
		t.Errorf("acknowledge: %+v %+v", c.After, c.Entries)
	}
	again, _ := Acknowledge(c.After, "ack2", at)
	if again.Outcome != Duplicate || len(again.Entries) != 0 {
		t.Errorf("second acknowledgement: %s", again.Outcome)
	}
	if _, err := Acknowledge(*stored(Pending, 500, 0), "ack", at); !errors.Is(err, ErrInvalid) {
		t.Errorf("acknowledging an undelivered commission: %v", err)
	}
}

func TestPlanPayout(t *testing.T) {
	aff := Account{Provider: AgentRef, Recipient: Affiliate("a1"), Unit: Cash, Currency: "usd"}
	pi := func(s PayoutStatus) PayoutIntent {
		return PayoutIntent{Provider: AgentRef, PayoutID: "p1", EventID: "e", Account: aff, Amount: 900, Status: s, At: at}
	}
	c1, err := PlanPayout(nil, pi(PayoutCompleted))
	if err != nil || c1.Outcome != Applied || c1.Entries[0].Deltas != (Deltas{Available: -900}) {
		t.Fatalf("completed: %+v %v", c1, err)
	}
	if dup, _ := PlanPayout(&c1.After, pi(PayoutCompleted)); dup.Outcome != Duplicate {
		t.Errorf("completed twice: %s", dup.Outcome)
	}
	c2, _ := PlanPayout(&c1.After, pi(PayoutFailed))
	if c2.Outcome != Applied || c2.Entries[0].Deltas != (Deltas{Available: 900}) {
		t.Errorf("failed after completed: %+v", c2)
	}
	if dup, _ := PlanPayout(&c2.After, pi(PayoutFailed)); dup.Outcome != Duplicate {
		t.Errorf("failed twice: %s", dup.Outcome)
	}
	retry := pi(PayoutCompleted)
	retry.StatusAt = at.Add(time.Hour) // the retry follows the failure
	c3, _ := PlanPayout(&c2.After, retry)
	if c3.Outcome != Applied || c3.Entries[0].ID == c1.Entries[0].ID {
		t.Errorf("retried payout: %+v", c3)
	}
	early, _ := PlanPayout(nil, pi(PayoutFailed))
	if early.Outcome != Applied || len(early.Entries) != 0 {
		t.Errorf("failed before completed moved money: %+v", early)
	}
}

func TestAuditFindsViolations(t *testing.T) {
	c, _ := Plan(nil, intent(TargetApproved, 500))
	good := []Balance{{Account: acct, Deltas: Deltas{Available: 500}}}
	if v := Audit(c.Entries, good, []Commission{c.After}); len(v) != 0 {
		t.Fatalf("clean ledger: %v", v)
	}
	// Created for one promoter, posted from another that never held it.
	other := Account{Provider: FirstPromoter, Recipient: Promoter("13"), Unit: Points}
	var stranded struct {
		entries    []Entry
		balances   []Balance
		commission Commission
	}
	stranded.entries = []Entry{
		{ID: "p", Account: acct, Subject: "commission:7", Kind: KindPending, Deltas: Deltas{Pending: 500}},
		{ID: "q", Account: other, Subject: "commission:7", Kind: KindPost, Deltas: Deltas{Pending: -500, Available: 500}},
	}
	stranded.balances = []Balance{{Account: acct, Deltas: Deltas{Pending: 500}}, {Account: other, Deltas: Deltas{Pending: -500, Available: 500}}}
	stranded.commission = Commission{Provider: FirstPromoter, ID: "7", Account: other, Amount: 500, Status: Approved}
	tests := []struct {
		name        string
		entries     []Entry
		balances    []Balance
		commissions []Commission
		want        string
	}{
		{"balance off", c.Entries, []Balance{{Account: acct, Deltas: Deltas{Available: 600}}}, []Commission{c.After}, "differs from the sum of its entries"},
		{"missing balance", c.Entries, nil, []Commission{c.After}, "there is no balance"},
		{"status disagrees", c.Entries, good, []Commission{*stored(Pending, 500, 0)}, "status pending"},
		{"duplicate entry", append(append([]Entry{}, c.Entries...), c.Entries...), []Balance{{Account: acct, Deltas: Deltas{Available: 1000}}}, nil, "appears twice"},
		{"negative pending", []Entry{{ID: "x", Account: acct, Deltas: Deltas{Pending: -1}}}, []Balance{{Account: acct, Deltas: Deltas{Pending: -1}}}, nil, "negative balance"},
		{"a credit left in another account", stranded.entries, stranded.balances, []Commission{stranded.commission}, "the commission is in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Audit(tt.entries, tt.balances, tt.commissions)
			found := false
			for _, x := range v {
				if strings.Contains(x.String(), tt.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("violations %v, want one containing %q", v, tt.want)
			}
		})
	}
}
