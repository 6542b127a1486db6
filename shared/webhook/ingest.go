package webhook

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrConfig classifies a setting that stops the function from starting.
var ErrConfig = errors.New("webhook: invalid configuration")

func configError(msg string) error { return &Rejection{Kind: ErrConfig, Reason: msg} }

// Settings configures ingest for both providers.
type Settings struct {
	FirstPromoter FirstPromoterAuth
	AgentRef      AgentRefAuth
}

// Ingest checks deliveries: method, provider, size, media type,
// authentication, envelope, and the fields the processor reads for the
// event's type. It is safe for concurrent use.
type Ingest struct {
	fp  *firstPromoterVerifier
	ar  *agentRefVerifier
	now func() time.Time
}

// New prepares ingest. It fails, wrapping ErrConfig, on a setting that can
// never work or would let anyone in: an AgentRef secret that is not base64
// or decodes to fewer than 16 bytes, a FirstPromoter signing secret, token
// (after its scheme) or Basic Auth password shorter than 16 characters, a
// Basic Auth setting that is not user:password. now is the clock for
// signature timestamps.
func New(s Settings, now func() time.Time) (*Ingest, error) {
	fp, err := newFirstPromoterVerifier(s.FirstPromoter)
	if err != nil {
		return nil, err
	}
	ar, err := newAgentRefVerifier(s.AgentRef)
	if err != nil {
		return nil, err
	}
	return &Ingest{fp: fp, ar: ar, now: now}, nil
}

// Unconfigured lists the providers with no authentication configured: every
// delivery from them is refused.
func (in *Ingest) Unconfigured() []Provider {
	var out []Provider
	if !in.fp.configured() {
		out = append(out, FirstPromoter)
	}
	if !in.ar.configured() {
		out = append(out, AgentRef)
	}
	return out
}

// Check decides what to do with a delivery. A refusal is a *Rejection that
// wraps one of the sentinel errors; otherwise the Result says whether to
// queue the body or only acknowledge it.
func (in *Ingest) Check(r Request) (Result, error) {
	if r.Method != "POST" {
		return Result{}, reject(ErrMethodNotAllowed, "method %s is not allowed; deliveries are POST", quoteShort(r.Method))
	}
	p := Provider(r.Provider)
	if p != FirstPromoter && p != AgentRef {
		return Result{}, reject(ErrUnknownProvider, "unknown provider %s; use /webhooks/firstpromoter or /webhooks/agentref", quoteShort(r.Provider))
	}
	if len(r.Body) > MaxBody {
		return Result{}, reject(ErrTooLarge, "body is %d bytes; the limit is %d", len(r.Body), MaxBody)
	}
	if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
		if ct == "" {
			return Result{}, reject(ErrUnsupportedMediaType, "Content-Type is missing; send application/json")
		}
		return Result{}, reject(ErrUnsupportedMediaType, "Content-Type %s is not JSON; send application/json", quoteShort(ct))
	}
	var err error
	if p == FirstPromoter {
		err = in.fp.verify(r.Header, r.Body)
	} else {
		err = in.ar.verify(r.Header, r.Body, in.now())
	}
	if err != nil {
		return Result{}, err
	}
	if err := checkText(r.Body); err != nil {
		return Result{}, err
	}
	if p == FirstPromoter {
		return checkFirstPromoter(r.Body)
	}
	return in.ar.check(r.Body)
}

// isJSON accepts application/json and application/<anything>+json, with or
// without parameters such as charset.
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	if strings.EqualFold(mt, "application/json") {
		return true
	}
	return len(mt) > len("application/+json") &&
		strings.EqualFold(mt[:len("application/")], "application/") &&
		strings.EqualFold(mt[len(mt)-len("+json"):], "+json")
}

// checkText refuses bodies a queue message cannot carry unchanged: SQS
// accepts only valid UTF-8 without U+FFFE and U+FFFF.
func checkText(body []byte) error {
	if !utf8.Valid(body) {
		return reject(ErrMalformed, "body is not valid UTF-8")
	}
	// U+FFFE and U+FFFF encode as EF BF BE and EF BF BF: one scan for the
	// common prefix finds both.
	for rest := body; ; {
		i := bytes.Index(rest, []byte("\xef\xbf"))
		if i < 0 || i+2 >= len(rest) {
			return nil
		}
		if rest[i+2] == 0xbe || rest[i+2] == 0xbf {
			return reject(ErrMalformed, "body contains U+FFFE or U+FFFF, which a queue message cannot carry")
		}
		rest = rest[i+2:]
	}
}

// quoteShort quotes a caller-supplied value for a message, cut to a length
// that keeps responses and logs small.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return strconv.Quote(s)
}
