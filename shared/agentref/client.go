// Package agentref is a client of AgentRef's API v1: the lists of
// conversions, payouts, affiliates and flags that the reconciler reads,
// with cursor pagination, typed errors and retries that honour Retry-After.
package agentref

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/httpretry"
)

// DefaultBaseURL is the API's address.
const DefaultBaseURL = "https://www.agentref.co/api/v1"

// PageSize is the largest page the API serves.
const PageSize = 100

// Sentinel errors that classify an *APIError.
var (
	ErrConfig      = errors.New("agentref: API key refused (check AGENTREF_API_KEY)")
	ErrRateLimited = errors.New("agentref: rate limited")
	ErrUnavailable = errors.New("agentref: unavailable")
	ErrInvalid     = errors.New("agentref: request refused")
)

// APIError is an error answer of the API.
type APIError struct {
	Op         string
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
	kind       error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("agentref %s: HTTP %d %s %s", e.Op, e.Status, e.Code, e.Message)
}

// Unwrap returns the sentinel error that classifies the answer.
func (e *APIError) Unwrap() error { return e.kind }

// Retry says that rate limits and unavailability are worth another try,
// after RetryAfter at least.
func (e *APIError) Retry() (bool, time.Duration) {
	return e.kind == ErrRateLimited || e.kind == ErrUnavailable, e.RetryAfter
}

// Client calls the API.
type Client struct {
	BaseURL     string
	APIKey      string
	HTTP        *http.Client
	MaxAttempts int
	Sleep       func(ctx context.Context, d time.Duration) error
}

// Conversion is the API's conversion object. The documented object has
// no currency (the deployment's AGENTREF_CURRENCY applies) and names the
// commission commission; currency and commissionAmount, the webhook's
// names, are read too when present.
type Conversion struct {
	ID               string    `json:"id"`
	AffiliateID      string    `json:"affiliateId"`
	Amount           Amount    `json:"amount"`
	Currency         string    `json:"currency"`
	CommissionAmount Amount    `json:"commissionAmount"`
	Commission       Amount    `json:"commission"`
	Status           string    `json:"status"`
	CreatedAt        time.Time `json:"createdAt"`
}

// CommissionCents is the commission in cents, from either name.
func (c Conversion) CommissionCents() (int64, error) {
	if c.CommissionAmount != "" {
		return c.CommissionAmount.Cents()
	}
	return c.Commission.Cents()
}

// Payout is the API's payout object. CompletedAt is nil until a
// completion.
type Payout struct {
	ID          string     `json:"id"`
	AffiliateID string     `json:"affiliateId"`
	Amount      Amount     `json:"amount"`
	Currency    string     `json:"currency"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"createdAt"`
	CompletedAt *time.Time `json:"completedAt"`
}

// Affiliate is the API's affiliate object: its status is approved or
// blocked.
type Affiliate struct {
	ID        string `json:"id"`
	ProgramID string `json:"programId"`
	Code      string `json:"code"`
	Status    string `json:"status"`
}

// Flag is the API's fraud flag: a confirmed one puts its affiliate on hold.
type Flag struct {
	ID          string     `json:"id"`
	AffiliateID string     `json:"affiliateId"`
	Type        string     `json:"type"`
	Status      string     `json:"status"`
	CreatedAt   time.Time  `json:"createdAt"`
	ResolvedAt  *time.Time `json:"resolvedAt"`
}

// Resolved is when the flag was resolved (its creation, when the platform
// names no resolution time).
func (f Flag) Resolved() time.Time {
	if f.ResolvedAt != nil {
		return *f.ResolvedAt
	}
	return f.CreatedAt
}

// meta is a list's pagination: hasMore, and optionally nextCursor.
type meta struct {
	Page       int     `json:"page"`
	HasMore    bool    `json:"hasMore"`
	NextCursor *string `json:"nextCursor"`
	RequestID  string  `json:"requestId"`
}

// ErrCutShort is a list that says more rows follow and gives none: it
// cannot be read further, and whatever it holds past this page is unseen.
var ErrCutShort = errors.New("agentref: the list says more rows follow but sent none")

// A position in a list is what Conversions, Payouts, Affiliates and Flags
// take and return: "" for the first page, a cursor the API gave
// (meta.nextCursor), or "page:N" when the API gave none and said hasMore.
const pagePrefix = "page:"

// next is the position after a page of rows read from position, "" at the
// end: the cursor when the API gives one, else the next page number.
func (m meta) next(op, position string, rows int) (string, error) {
	if !m.HasMore {
		return "", nil
	}
	if rows == 0 {
		return "", fmt.Errorf("agentref %s at %q (request %s): %w", op, position, m.RequestID, ErrCutShort)
	}
	if m.NextCursor != nil && *m.NextCursor != "" {
		return *m.NextCursor, nil
	}
	page := m.Page
	if page < 1 {
		n, ok := strings.CutPrefix(position, pagePrefix)
		if page, _ = strconv.Atoi(n); !ok || page < 1 {
			page = 1
			if position != "" {
				// A cursor's page, of which the API said nothing.
				return "", fmt.Errorf("agentref %s at %q (request %s): meta.page missing and no nextCursor: %w", op, position, m.RequestID, ErrCutShort)
			}
		}
	}
	return pagePrefix + strconv.Itoa(page+1), nil
}

// Conversions reads one page of conversions with the given status from
// cursor ("" for the first page) and returns the next cursor ("" at the end).
func (c *Client) Conversions(ctx context.Context, status, cursor string) ([]Conversion, string, error) {
	var page struct {
		Data []Conversion `json:"data"`
		Meta meta         `json:"meta"`
	}
	next, err := c.list(ctx, "list conversions", "/conversions", status, cursor, &page, func() (meta, int) { return page.Meta, len(page.Data) })
	return page.Data, next, err
}

// Payouts reads one page of payouts with the given status.
func (c *Client) Payouts(ctx context.Context, status, cursor string) ([]Payout, string, error) {
	var page struct {
		Data []Payout `json:"data"`
		Meta meta     `json:"meta"`
	}
	next, err := c.list(ctx, "list payouts", "/payouts", status, cursor, &page, func() (meta, int) { return page.Meta, len(page.Data) })
	return page.Data, next, err
}

// Affiliates reads one page of affiliates with the given status and
// returns the next cursor and the platform's clock when it answered (its
// Date header; zero when it sent none). Blocked affiliates are asked for
// explicitly: the API leaves them out unless told to include them.
func (c *Client) Affiliates(ctx context.Context, status, cursor string) ([]Affiliate, string, time.Time, error) {
	var page struct {
		Data []Affiliate `json:"data"`
		Meta meta        `json:"meta"`
	}
	q := pageQuery(status, cursor)
	if status == "blocked" {
		q.Set("includeBlocked", "true")
	}
	at, err := c.get(ctx, "list affiliates", "/affiliates", q, &page)
	if err != nil {
		return nil, cursor, at, err
	}
	next, err := page.Meta.next("list affiliates", cursor, len(page.Data))
	return page.Data, next, at, err
}

// Flags reads one page of fraud flags with the given status.
func (c *Client) Flags(ctx context.Context, status, cursor string) ([]Flag, string, error) {
	var page struct {
		Data []Flag `json:"data"`
		Meta meta   `json:"meta"`
	}
	next, err := c.list(ctx, "list flags", "/flags", status, cursor, &page, func() (meta, int) { return page.Meta, len(page.Data) })
	return page.Data, next, err
}

func pageQuery(status, position string) url.Values {
	q := url.Values{"limit": {strconv.Itoa(PageSize)}}
	if status != "" {
		q.Set("status", status)
	}
	if n, ok := strings.CutPrefix(position, pagePrefix); ok {
		q.Set("page", n)
	} else if position != "" {
		q.Set("cursor", position)
	}
	return q
}

func (c *Client) list(ctx context.Context, op, path, status, position string, out any, m func() (meta, int)) (string, error) {
	if _, err := c.get(ctx, op, path, pageQuery(status, position), out); err != nil {
		return position, err
	}
	page, rows := m()
	return page.next(op, position, rows)
}

// get reads one answer into out and returns the platform's clock when it
// answered (its Date header; zero when absent).
func (c *Client) get(ctx context.Context, op, path string, q url.Values, out any) (time.Time, error) {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	httpc := c.HTTP
	if httpc == nil {
		httpc = http.DefaultClient
	}
	var served time.Time
	err := httpretry.Policy{Attempts: c.MaxAttempts, Sleep: c.Sleep}.Do(ctx, func() (bool, time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path+"?"+q.Encode(), nil)
		if err != nil {
			return false, 0, fmt.Errorf("agentref %s: %w", op, err)
		}
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
		req.Header.Set("Accept", "application/json")
		return httpretry.Classify(c.do(httpc, req, op, out, &served))
	})
	return served, err
}

func (c *Client) do(httpc *http.Client, req *http.Request, op string, out any, served *time.Time) error {
	resp, err := httpc.Do(req)
	if err != nil {
		return &APIError{Op: op, Message: httpretry.Reason(err), kind: ErrUnavailable}
	}
	defer resp.Body.Close()
	if at, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		*served = at
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return &APIError{Op: op, Status: resp.StatusCode, Message: err.Error(), kind: ErrUnavailable}
	}
	if resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(raw, out); err != nil {
			if cerr := contractError(req.Method+" "+endpoint(req.URL.Path), raw, err); cerr != nil {
				return cerr
			}
			return fmt.Errorf("agentref %s: decode answer: %w", op, err)
		}
		return nil
	}
	e := &APIError{Op: op, Status: resp.StatusCode, RetryAfter: httpretry.RetryAfter(resp.Header.Get("Retry-After"))}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	}
	switch {
	case resp.StatusCode == 401 || resp.StatusCode == 403:
		e.kind = ErrConfig
	case resp.StatusCode == 429:
		e.kind = ErrRateLimited
	case resp.StatusCode >= 500:
		e.kind = ErrUnavailable
	default:
		e.kind = ErrInvalid
	}
	return e
}

// endpoint is path under the API's base (/api/v1).
func endpoint(path string) string {
	if _, rest, ok := strings.Cut(path, "/api/v1"); ok {
		return rest
	}
	return path
}
