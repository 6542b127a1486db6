package firstpromoter

import (
	"net/url"
	"time"
)

// Listing is one of the commission lists the reconciler reads, by name
// (its cursor's key in the ledger).
type Listing struct {
	Name    string
	filters url.Values
}

// The lists the reconciler reads.
var (
	// ListApproved are approved commissions the platform has not
	// seen fulfilled: deliveries webhooks may have missed.
	ListApproved = Listing{"firstpromoter:approved", url.Values{"filters[status]": {"approved"}, "filters[fulfilled]": {"no"}}}
	// ListPending are commissions awaiting approval.
	ListPending = Listing{"firstpromoter:pending", url.Values{"filters[status]": {"pending"}}}
	// ListDenied are denied commissions.
	ListDenied = Listing{"firstpromoter:denied", url.Values{"filters[status]": {"denied"}}}
	// ListFulfilled are approved commissions the platform shows fulfilled.
	ListFulfilled = Listing{"firstpromoter:fulfilled", url.Values{"filters[status]": {"approved"}, "filters[fulfilled]": {"yes"}}}
)

// Query is the listing's filters for ListCommissions, oldest first,
// bounded to commissions created on since's day or later (a date: the API
// refuses a datetime) unless since is zero.
func (l Listing) Query(since time.Time) url.Values {
	q := url.Values{}
	for k, v := range l.filters {
		q[k] = append([]string(nil), v...)
	}
	if !since.IsZero() {
		q.Set("filters[created_at][from]", since.UTC().Format(time.DateOnly))
	}
	q.Set("sorting[created_at]", "asc")
	return q
}

// AutoApprovable reports whether a pending commission is one the approval
// policy approves at now: older than after, its fraud check clean.
func (c Commission) AutoApprovable(now time.Time, after time.Duration) bool {
	return after > 0 && c.FraudCheck == "no_suspicion" && !c.CreatedAt.IsZero() && now.Sub(c.CreatedAt) >= after
}
