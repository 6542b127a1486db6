package firstpromoter

import (
	"testing"
	"time"
)

// TestListingQueryIsDocumentedFiltersOldestFirst: the creation bound is a
// date, never a datetime, the order is oldest first, and a query never
// changes its listing.
func TestListingQueryIsDocumentedFiltersOldestFirst(t *testing.T) {
	since := time.Date(2026, 10, 21, 23, 30, 0, 0, time.FixedZone("", -2*3600))
	q := ListApproved.Query(since)
	want := "filters%5Bcreated_at%5D%5Bfrom%5D=2026-10-22&filters%5Bfulfilled%5D=no&filters%5Bstatus%5D=approved&sorting%5Bcreated_at%5D=asc"
	if got := q.Encode(); got != want {
		t.Errorf("query %s, want %s", got, want)
	}
	q.Set("filters[status]", "denied")
	if got := ListApproved.Query(time.Time{}).Get("filters[status]"); got != "approved" {
		t.Errorf("the listing changed with its query: status %q", got)
	}
	if ListPending.Query(time.Time{}).Has("filters[created_at][from]") {
		t.Error("an unbounded query has a creation bound")
	}
}
