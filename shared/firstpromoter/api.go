package firstpromoter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Commission is the API's commission object (the fields rewardrelay uses).
type Commission struct {
	ID               int64            `json:"id"`
	Status           string           `json:"status"`
	Unit             string           `json:"unit"`
	Amount           int64            `json:"amount"`
	FraudCheck       string           `json:"fraud_check"`
	IsPaid           bool             `json:"is_paid"`
	CreatedAt        time.Time        `json:"created_at"`
	StatusUpdatedAt  *time.Time       `json:"status_updated_at"`
	PromoterCampaign PromoterCampaign `json:"promoter_campaign"`
	Referral         *Referral        `json:"referral"`
	Reward           *Reward          `json:"reward"`
}

// PromoterCampaign links a commission to its promoter.
type PromoterCampaign struct {
	ID         int64 `json:"id"`
	CampaignID int64 `json:"campaign_id"`
	PromoterID int64 `json:"promoter_id"`
	Promoter   *struct {
		ID int64 `json:"id"`
	} `json:"promoter"`
}

// Referral is the referred customer.
type Referral struct {
	ID  int64  `json:"id"`
	UID string `json:"uid"`
}

// Reward is the campaign reward that produced a commission.
type Reward struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// PromoterID returns the promoter's id from either place the API puts it.
func (c Commission) PromoterID() int64 {
	if c.PromoterCampaign.PromoterID != 0 {
		return c.PromoterCampaign.PromoterID
	}
	if c.PromoterCampaign.Promoter != nil {
		return c.PromoterCampaign.Promoter.ID
	}
	return 0
}

// Commissions fetches specific commissions, MaxPerPage ids per request.
// Ids the platform does not return are absent from the result.
func (c *Client) Commissions(ctx context.Context, ids []int64) ([]Commission, error) {
	return c.byID(ctx, "list commissions by id", ids, nil)
}

// byID fetches the commissions of ids that pass filters, MaxPerPage ids per
// request.
func (c *Client) byID(ctx context.Context, op string, ids []int64, filters url.Values) ([]Commission, error) {
	var out []Commission
	for start := 0; start < len(ids); start += MaxPerPage {
		chunk := ids[start:min(start+MaxPerPage, len(ids))]
		q := url.Values{"per_page": {strconv.Itoa(MaxPerPage)}}
		for k, v := range filters {
			q[k] = v
		}
		for _, id := range chunk {
			q.Add("ids[]", strconv.FormatInt(id, 10))
		}
		var page []Commission
		if _, err := c.do(ctx, op, http.MethodGet, "/commissions", q, nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page...)
	}
	return out, nil
}

// Standing is what the platform shows of a commission's fulfilment.
type Standing int

// Standings. The API has no fulfilled field: its fulfilled filter tells.
const (
	// Unfulfillable: not approved, or not returned at all; mark_fulfilled
	// cannot work on it.
	Unfulfillable Standing = iota
	// Unfulfilled: approved and not fulfilled; mark_fulfilled can work on it.
	Unfulfilled
	// Fulfilled: the platform shows it fulfilled.
	Fulfilled
)

// Standings asks the platform where each of ids stands: one
// GET /commissions?ids[]=...&filters[fulfilled]=yes per MaxPerPage ids,
// then, only for the ids it does not show fulfilled, one with
// filters[status]=approved&filters[fulfilled]=no. Every id is in the
// result.
func (c *Client) Standings(ctx context.Context, ids []int64) (map[int64]Standing, error) {
	out := make(map[int64]Standing, len(ids))
	for _, id := range ids {
		out[id] = Unfulfillable
	}
	done, err := c.byID(ctx, "list fulfilled commissions by id", ids, url.Values{"filters[fulfilled]": {"yes"}})
	if err != nil {
		return nil, err
	}
	for _, row := range done {
		if _, asked := out[row.ID]; asked {
			out[row.ID] = Fulfilled
		}
	}
	var rest []int64
	for _, id := range ids {
		if out[id] != Fulfilled {
			rest = append(rest, id)
		}
	}
	open, err := c.byID(ctx, "list unfulfilled commissions by id", rest, url.Values{"filters[status]": {"approved"}, "filters[fulfilled]": {"no"}})
	if err != nil {
		return nil, err
	}
	for _, row := range open {
		if st, asked := out[row.ID]; asked && st != Fulfilled {
			out[row.ID] = Unfulfilled
		}
	}
	return out, nil
}

// ListCommissions pages through GET /commissions with the given filters
// (e.g. filters[status]=approved), calling fn with each page, from page
// `from` (1-based), stopping on a short page or when fn returns false.
// It returns the next page to read (0 when the list is exhausted).
func (c *Client) ListCommissions(ctx context.Context, filters url.Values, from int, fn func(page int, rows []Commission) (bool, error)) (int, error) {
	if from < 1 {
		from = 1
	}
	for page := from; ; page++ {
		q := url.Values{}
		for k, v := range filters {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(page))
		q.Set("per_page", strconv.Itoa(MaxPerPage))
		var rows []Commission
		if _, err := c.do(ctx, "list commissions", http.MethodGet, "/commissions", q, nil, &rows); err != nil {
			return page, err
		}
		more, err := fn(page, rows)
		if err != nil {
			return page, err
		}
		if len(rows) < MaxPerPage {
			return 0, nil
		}
		if !more {
			return page + 1, nil
		}
	}
}

// ID is an identifier the API may send as a number or a string.
type ID string

// UnmarshalJSON accepts a JSON number or string.
func (id *ID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*id = ID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("id %s: %w", b, err)
	}
	*id = ID(n.String())
	return nil
}

// BatchResult is the answer of a batch action or of a batch process poll
// (the API's BatchOperationResponse and BatchProcess).
type BatchResult struct {
	ID             ID     `json:"id"`
	Status         string `json:"status"`
	Total          int    `json:"total"`
	ProcessedCount int    `json:"processed_count"`
	FailedCount    int    `json:"failed_count"`
	// ProcessingErrors are documented as strings, one message per failure
	// and no id: which ids failed must be asked (Standings). An object
	// with an id is understood too.
	ProcessingErrors []json.RawMessage `json:"processing_errors"`
	// Async is set when the action runs in the background (more than
	// SyncBatchLimit ids): poll BatchProcess with ID.
	Async bool `json:"-"`
}

// Done reports whether the batch has finished, successfully or not.
func (r BatchResult) Done() bool {
	switch r.Status {
	case "completed", "failed", "stopped":
		return true
	}
	return false
}

// Confirmed reports whether the answer confirms every id it was sent: a
// completed batch in which nothing failed.
func (r BatchResult) Confirmed() bool {
	return r.Status == "completed" && r.FailedCount == 0 && len(r.ProcessingErrors) == 0
}

// Refusals is how many ids a completed batch failed one by one. A failed
// or stopped batch may have left ids untried: 0.
func (r BatchResult) Refusals() int {
	if r.Status != "completed" {
		return 0
	}
	return max(r.FailedCount, len(r.ProcessingErrors))
}

// FailedIDs returns the ids that processing_errors name, with their
// message: only errors of the object form ({"id": ..., "message": ...}) do;
// the documented strings name none.
func (r BatchResult) FailedIDs() map[int64]string {
	out := map[int64]string{}
	for _, raw := range r.ProcessingErrors {
		var e struct {
			ID      json.Number `json:"id"`
			Message string      `json:"message"`
			Error   string      `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.ID == "" {
			continue
		}
		id, err := e.ID.Int64()
		if err != nil {
			continue
		}
		msg := e.Message
		if msg == "" {
			msg = e.Error
		}
		out[id] = msg
	}
	return out
}

// Messages returns processing_errors as text: each string as it is, the
// message of an object, or the raw JSON of anything else.
func (r BatchResult) Messages() []string {
	var out []string
	for _, raw := range r.ProcessingErrors {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, s)
			continue
		}
		var e struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		switch {
		case json.Unmarshal(raw, &e) == nil && e.Message != "":
			out = append(out, e.Message)
		case e.Error != "":
			out = append(out, e.Error)
		default:
			out = append(out, string(raw))
		}
	}
	return out
}

func (c *Client) batch(ctx context.Context, action string, ids []int64) (BatchResult, error) {
	var r BatchResult
	status, err := c.do(ctx, action, http.MethodPost, "/commissions/"+action, nil, map[string][]int64{"ids": ids}, &r)
	if err != nil {
		return BatchResult{}, err
	}
	r.Async = status == http.StatusAccepted || (!r.Done() && r.ID != "")
	return r, nil
}

// Approve approves commissions (asynchronously above SyncBatchLimit ids).
func (c *Client) Approve(ctx context.Context, ids []int64) (BatchResult, error) {
	return c.batch(ctx, "approve", ids)
}

// Deny denies commissions.
func (c *Client) Deny(ctx context.Context, ids []int64) (BatchResult, error) {
	return c.batch(ctx, "deny", ids)
}

// MarkFulfilled tells the platform the rewards were delivered.
func (c *Client) MarkFulfilled(ctx context.Context, ids []int64) (BatchResult, error) {
	return c.batch(ctx, "mark_fulfilled", ids)
}

// MarkUnfulfilled moves the linked payouts back to pending.
func (c *Client) MarkUnfulfilled(ctx context.Context, ids []int64) (BatchResult, error) {
	return c.batch(ctx, "mark_unfulfilled", ids)
}

// BatchProcess polls an asynchronous batch.
func (c *Client) BatchProcess(ctx context.Context, id string) (BatchResult, error) {
	var r BatchResult
	if _, err := c.do(ctx, "poll batch process", http.MethodGet, "/batch_processes/"+url.PathEscape(id), nil, nil, &r); err != nil {
		return BatchResult{}, err
	}
	if r.ID == "" {
		r.ID = ID(id)
	}
	return r, nil
}

// BatchProgress asks, in one request, how far each batch process still
// pending or in progress has come (GET /batch_processes/progress), by id.
// A batch absent from the answer is no longer running: poll it.
func (c *Client) BatchProgress(ctx context.Context) (map[string]int, error) {
	q := url.Values{"filters[status][]": {"pending", "in_progress"}}
	var out map[string]int
	if _, err := c.do(ctx, "batch progress", http.MethodGet, "/batch_processes/progress", q, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// String describes a batch for logs.
func (r BatchResult) String() string {
	return fmt.Sprintf("batch %s %s: %d/%d processed, %d failed", r.ID, r.Status, r.ProcessedCount, r.Total, r.FailedCount)
}
