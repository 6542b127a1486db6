// Package firstpromoter is a client of FirstPromoter's API v2: the calls
// rewardrelay makes, with both authentication headers, page/per_page
// pagination, ids[] chunking, typed errors, retries with jittered backoff
// that honour Retry-After, deadlines from the context, and a request budget
// shared by every function that calls the platform.
package firstpromoter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/httpretry"
)

// DefaultBaseURL is the API's address.
const DefaultBaseURL = "https://api.firstpromoter.com/api/v2/company"

// MaxPerPage is the largest page and ids[] chunk the API serves.
const MaxPerPage = 100

// SyncBatchLimit is the most ids a batch action answers synchronously.
const SyncBatchLimit = 5

// Sentinel errors that classify an *APIError.
var (
	// ErrConfig is 401 or 403: the API key or account id is wrong. Not retried.
	ErrConfig = errors.New("firstpromoter: authentication or permission refused (check FIRSTPROMOTER_API_KEY and FIRSTPROMOTER_ACCOUNT_ID)")
	// ErrNotFound is 404.
	ErrNotFound = errors.New("firstpromoter: not found")
	// ErrInvalid is 400 or 422: the request, or a repeated action; check state.
	ErrInvalid = errors.New("firstpromoter: request refused")
	// ErrRateLimited is 429 after every retry.
	ErrRateLimited = errors.New("firstpromoter: rate limited")
	// ErrUnavailable is a 5xx, a timeout or a network error after every retry.
	ErrUnavailable = errors.New("firstpromoter: unavailable")
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
	msg := fmt.Sprintf("firstpromoter %s: HTTP %d", e.Op, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap returns the sentinel error that classifies the answer.
func (e *APIError) Unwrap() error { return e.kind }

// Retry says that rate limits and unavailability are worth another try,
// after RetryAfter at least.
func (e *APIError) Retry() (bool, time.Duration) {
	return e.kind == ErrRateLimited || e.kind == ErrUnavailable, e.RetryAfter
}

// Budget rations requests among every concurrent caller of the account.
// Take blocks until one request may be sent, or fails with the context.
type Budget interface {
	Take(ctx context.Context) error
}

// Client calls the API. The zero values of the optional fields are
// sensible defaults.
type Client struct {
	BaseURL   string
	APIKey    string
	AccountID string
	HTTP      *http.Client
	Budget    Budget
	// MaxAttempts is the most tries of one request (default 4).
	MaxAttempts int
	// Backoff is the base of the exponential backoff (default 250 ms).
	Backoff time.Duration
	// Sleep waits, or fails with the context (tests make it instant).
	Sleep func(ctx context.Context, d time.Duration) error
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// do sends one request with retries and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body, out any) (int, error) {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u := strings.TrimRight(base, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, fmt.Errorf("firstpromoter %s: %w", op, err)
		}
	}
	var status int
	err := httpretry.Policy{Attempts: c.MaxAttempts, Base: c.Backoff, Sleep: c.Sleep}.Do(ctx, func() (bool, time.Duration, error) {
		if c.Budget != nil {
			if err := c.Budget.Take(ctx); err != nil {
				return false, 0, fmt.Errorf("firstpromoter %s: request budget: %w", op, err)
			}
		}
		var err error
		status, err = c.once(ctx, op, method, u, payload, out)
		return httpretry.Classify(err)
	})
	return status, err
}

func (c *Client) once(ctx context.Context, op, method, u string, payload []byte, out any) (int, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, fmt.Errorf("firstpromoter %s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	req.Header.Set("Account-ID", c.AccountID)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, &APIError{Op: op, Message: httpretry.Reason(err), kind: ErrUnavailable}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, &APIError{Op: op, Status: resp.StatusCode, Message: "reading the answer: " + err.Error(), kind: ErrUnavailable}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil && len(bytes.TrimSpace(raw)) > 0 {
			if err := json.Unmarshal(raw, out); err != nil {
				if cerr := contractError(method+" "+endpoint(u), err); cerr != nil {
					return 0, cerr
				}
				return 0, fmt.Errorf("firstpromoter %s: decode answer: %w", op, err)
			}
		}
		return resp.StatusCode, nil
	}
	e := &APIError{Op: op, Status: resp.StatusCode, RetryAfter: httpretry.RetryAfter(resp.Header.Get("Retry-After"))}
	var msg struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	}
	if json.Unmarshal(raw, &msg) == nil {
		e.Message, e.Code = msg.Message, msg.Code
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		e.kind = ErrConfig
	case resp.StatusCode == http.StatusNotFound:
		e.kind = ErrNotFound
	case resp.StatusCode == http.StatusTooManyRequests:
		e.kind = ErrRateLimited
	case resp.StatusCode >= 500:
		e.kind = ErrUnavailable
	default:
		e.kind = ErrInvalid
	}
	return 0, e
}

// endpoint is the path of u under the API's base, without its query.
func endpoint(u string) string {
	if p, err := url.Parse(u); err == nil {
		u = p.Path
	}
	if i := strings.Index(u, "/api/v2/company"); i >= 0 {
		u = u[i+len("/api/v2/company"):]
	}
	return u
}
