// Package webhook authenticates and validates affiliate-platform webhook
// deliveries before they are queued: the providers, their envelopes, their
// signature schemes and the reasons a delivery is refused or ignored.
//
// It imports only the standard library. It never sees a queue or a table:
// Check decides, and the caller acts on the decision.
package webhook

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Provider names a supported affiliate platform; it is the {provider} path
// parameter of the webhook route.
type Provider string

// The supported providers.
const (
	FirstPromoter Provider = "firstpromoter"
	AgentRef      Provider = "agentref"
)

// Providers lists every supported provider in a stable order.
var Providers = []Provider{FirstPromoter, AgentRef}

// MaxBody is the largest accepted body, after base64 decoding.
const MaxBody = 256 << 10

// Sentinel errors: every refusal wraps exactly one of them, and callers map
// them to a response.
var (
	ErrMethodNotAllowed     = errors.New("webhook: method not allowed")
	ErrUnknownProvider      = errors.New("webhook: unknown provider")
	ErrTooLarge             = errors.New("webhook: body too large")
	ErrUnsupportedMediaType = errors.New("webhook: unsupported media type")
	ErrUnauthenticated      = errors.New("webhook: unauthenticated")
	ErrMalformed            = errors.New("webhook: malformed")
)

// Rejection is a refused delivery. Reason is written for the person reading
// the platform's delivery log: it says what to fix and never contains a
// secret, a signature or a body.
type Rejection struct {
	Kind   error
	Reason string
}

func (r *Rejection) Error() string { return r.Reason }

// Unwrap returns the sentinel error that classifies the rejection.
func (r *Rejection) Unwrap() error { return r.Kind }

func reject(kind error, format string, args ...any) *Rejection {
	return &Rejection{Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

// Header is a request's header map; Get ignores the case of names.
type Header map[string]string

// Get returns the value of the named header, ignoring case. HTTP API
// lowercases names, so a lowercase name is found without a scan.
func (h Header) Get(name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Request is one delivery as received: the body is already base64-decoded.
type Request struct {
	Method   string
	Provider string
	Header   Header
	Body     []byte
}

// Result is an accepted delivery: either to be queued, or (Ignored set) to be
// acknowledged without further work.
type Result struct {
	Provider  Provider
	EventID   string
	EventType string
	// Ignored is a short code when the delivery is acknowledged but not
	// queued: "test_delivery", "other_environment" or "unhandled_event_type".
	Ignored string
	// Reason explains Ignored to a person.
	Reason string
}

// Delivery is an accepted delivery on its way to the queue: the raw body,
// byte for byte as the platform sent it, and the attributes that describe it.
type Delivery struct {
	Provider   Provider
	EventID    string
	EventType  string
	ReceivedAt time.Time
	Body       []byte
}
