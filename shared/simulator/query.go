package simulator

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A strict server refuses what its documentation does not name: an
// unknown parameter, a value outside its enumeration, a datetime where a
// date is documented. The simulator does the same, so a client that sends
// anything else fails its tests instead of being silently half-understood.

// param checks one query value; a non-empty result is why it is refused.
type param func(v string) string

func oneOf(values ...string) param {
	return func(v string) string {
		for _, ok := range values {
			if v == ok {
				return ""
			}
		}
		return "must be one of " + strings.Join(values, ", ")
	}
}

func integer(lo, hi int64) param {
	return func(v string) string {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return fmt.Sprintf("must be an integer from %d to %d", lo, hi)
		}
		return ""
	}
}

var dateOnly = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// date is the OpenAPI "date" format: YYYY-MM-DD, never a datetime.
func date(v string) string {
	if !dateOnly.MatchString(v) {
		return "must be a date (YYYY-MM-DD)"
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		return "must be a date (YYYY-MM-DD)"
	}
	return ""
}

func anyString(string) string { return "" }

func boolean(v string) string { return oneOf("true", "false")(v) }

const maxID = 1<<63 - 1

// fpListParams are the parameters of FirstPromoter's GET /commissions: the
// documented pagination (page, per_page at most 100), ids[], q, every
// documented filter and sorting. A filter of an array type may be given
// once (filters[x]=1) or as an array (filters[x][]=1).
var fpListParams = map[string]param{
	"page":                       integer(1, maxID),
	"per_page":                   integer(1, 100),
	"q":                          anyString,
	"ids[]":                      integer(1, maxID),
	"filters[status]":            oneOf("pending", "approved", "denied"),
	"filters[paid]":              oneOf("yes", "no"),
	"filters[fulfilled]":         oneOf("yes", "no"),
	"filters[sale_amount][from]": integer(-maxID, maxID),
	"filters[sale_amount][to]":   integer(-maxID, maxID),
	"filters[amount][from]":      integer(-maxID, maxID),
	"filters[amount][to]":        integer(-maxID, maxID),
	"filters[created_at][from]":  date,
	"filters[created_at][to]":    date,
	"filters[campaign_id]":       integer(1, maxID),
	"filters[campaign_id][]":     integer(1, maxID),
	"filters[payout_id]":         integer(1, maxID),
	"filters[payout_id][]":       integer(1, maxID),
	"filters[due_period]":        oneOf("next", "overdue", "custom"),
	"filters[promoter_id]":       integer(1, maxID),
	"filters[first_commission]":  boolean,
	"filters[refunded]":          boolean,
	"filters[fraud_check]":       oneOf("no_suspicion", "same_ip_suspicion", "same_promoter_email", "ad_source"),
	"filters[fraud_check][]":     oneOf("no_suspicion", "same_ip_suspicion", "same_promoter_email", "ad_source"),
	"filters[plan_id]":           integer(1, maxID),
	"filters[plan_id][]":         integer(1, maxID),
	"sorting[sale_amount]":       oneOf("asc", "desc"),
	"sorting[amount]":            oneOf("asc", "desc"),
	"sorting[created_at]":        oneOf("asc", "desc"),
	"sorting[referral]":          oneOf("asc", "desc"),
}

// fpListSimulated are the documented parameters the simulator applies; it
// refuses the others (422, naming them) rather than ignore them.
var fpListSimulated = map[string]bool{
	"page": true, "per_page": true, "ids[]": true, "filters[status]": true, "filters[paid]": true,
	"filters[fulfilled]": true, "filters[created_at][from]": true, "filters[created_at][to]": true,
	"filters[promoter_id]": true, "sorting[created_at]": true,
}

// fpPromoterListParams are the parameters of GET /promoters the simulator
// applies (the documented pagination and ids[]); the others are refused.
var fpPromoterListParams = map[string]param{
	"page":     integer(1, maxID),
	"per_page": integer(1, 100),
	"ids[]":    integer(1, maxID),
}

var batchStatuses = oneOf("pending", "in_progress", "completed", "failed", "stopped")

// fpBatchListParams are the parameters of GET /batch_processes and
// GET /batch_processes/progress.
var fpBatchListParams = map[string]param{
	"filters[status]":   batchStatuses,
	"filters[status][]": batchStatuses,
}

// checkQuery returns why q is refused ("" when every parameter is
// documented with a documented value and simulated). A parameter given
// more than once must be an array parameter (its name ends in []).
func checkQuery(q url.Values, documented map[string]param, simulated map[string]bool) string {
	for k, vs := range q {
		check, ok := documented[k]
		if !ok {
			return k + " is not a parameter of this endpoint"
		}
		if simulated != nil && !simulated[k] {
			return k + " is documented but the simulator does not apply it"
		}
		if len(vs) > 1 && !strings.HasSuffix(k, "[]") {
			return k + " is given more than once"
		}
		for _, v := range vs {
			if why := check(v); why != "" {
				return k + " " + why
			}
		}
	}
	return ""
}
