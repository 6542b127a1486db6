package reward

import (
	"fmt"
	"sort"
	"strings"
)

// Violation is one broken ledger invariant.
type Violation struct {
	Subject string // an account or a commission
	Problem string
}

func (v Violation) String() string { return v.Subject + ": " + v.Problem }

// Audit checks the ledger's invariants and returns every violation, sorted:
//   - each balance equals the sum of its account's entries;
//   - no balance of pending, available or reversed is negative except
//     available after payouts (a payout may exceed what was delivered only
//     if the platform says so: it is reported, not hidden);
//   - each commission's entries in its account add up to what its status
//     says: pending -> its effective amount pending; approved -> its
//     effective amount available (nothing while it is undelivered);
//     denied -> nothing; reversed -> its amount
//     reversed; and in any other account (one its pending credit moved
//     from) to nothing;
//   - an acknowledged commission (Fulfilment.Booked) has exactly its
//     delivered amount fulfilled.
//
// Entries of commissions absent from commissions are checked only against
// balances; pass every commission of the accounts audited.
func Audit(entries []Entry, balances []Balance, commissions []Commission) []Violation {
	var out []Violation
	add := func(subject, format string, args ...any) {
		out = append(out, Violation{Subject: subject, Problem: fmt.Sprintf(format, args...)})
	}
	sums := map[Account]Deltas{}
	perSubject := map[string]map[Account]Deltas{}
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.ID] {
			add(e.ID, "entry id appears twice")
		}
		seen[e.ID] = true
		sums[e.Account] = sums[e.Account].Add(e.Deltas)
		key := string(e.Account.Provider) + "/" + e.Subject
		if perSubject[key] == nil {
			perSubject[key] = map[Account]Deltas{}
		}
		perSubject[key][e.Account] = perSubject[key][e.Account].Add(e.Deltas)
	}
	balanced := map[Account]bool{}
	for _, b := range balances {
		balanced[b.Account] = true
		if want := sums[b.Account]; want != b.Deltas {
			add(b.Account.String(), "balance %+v differs from the sum of its entries %+v", b.Deltas, want)
		}
		if b.Pending < 0 || b.Reversed < 0 || b.Fulfilled < 0 || b.Redeemed < 0 || b.Held < 0 {
			add(b.Account.String(), "negative balance %+v", b.Deltas)
		}
	}
	for acct, d := range sums {
		if !balanced[acct] && d != (Deltas{}) {
			add(acct.String(), "entries sum to %+v but there is no balance", d)
		}
	}
	for _, c := range commissions {
		key := string(c.Provider) + "/commission:" + c.ID
		got := perSubject[key][c.Account]
		want := Deltas{}
		switch c.Status {
		case Pending:
			want.Pending = c.Effective()
		case Approved:
			want.Available = c.inAvailable(c.Effective())
			want.Reversed = c.Refunded
		case Reversed:
			want.Reversed = c.Amount
		}
		if c.Fulfilment.Booked() {
			want.Fulfilled = c.Amount
		}
		if got != want {
			add(key, "entries sum to %+v; status %s with amount %d (refunded %d) wants %+v", got, c.Status, c.Amount, c.Refunded, want)
		}
		for a, d := range perSubject[key] {
			if a != c.Account && d != (Deltas{}) {
				add(key, "entries in %s sum to %+v; the commission is in %s", a, d, c.Account)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		return out[i].Problem < out[j].Problem
	})
	return out
}

// AuditCommission checks one commission's entries against its status: the
// per-commission part of Audit, for a reconciler that reads only what it
// touched.
func AuditCommission(c Commission, entries []Entry) []Violation {
	var mine []Entry
	for _, e := range entries {
		if e.Subject == "commission:"+c.ID && e.Account.Provider == c.Provider {
			mine = append(mine, e)
		}
	}
	var balances []Balance
	sums := map[Account]Deltas{}
	for _, e := range mine {
		sums[e.Account] = sums[e.Account].Add(e.Deltas)
	}
	for a, d := range sums {
		balances = append(balances, Balance{Account: a, Deltas: d})
	}
	var out []Violation
	for _, v := range Audit(mine, balances, []Commission{c}) {
		if !strings.Contains(v.Problem, "negative balance") {
			out = append(out, v)
		}
	}
	return out
}
