package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// FirstPromoterAuth holds the ways a FirstPromoter delivery may prove where it
// comes from. Each one left empty is off; a delivery that satisfies any
// configured one is authentic.
type FirstPromoterAuth struct {
	// Secrets sign the raw body: X-Webhook-Signature is the lowercase hex
	// HMAC-SHA256 keyed with the secret's ASCII bytes. Several allow rotation.
	Secrets []string
	// TokenHeader (default Authorization) must carry Token, compared whole.
	TokenHeader string
	Token       string
	// BasicAuth is "user:password" for HTTP Basic Auth.
	BasicAuth string
}

// firstPromoterVerifier is FirstPromoterAuth prepared for constant-time checks.
type firstPromoterVerifier struct {
	secrets     []*keyedMAC
	tokenHeader string
	token       *[sha256.Size]byte
	basicUser   *[sha256.Size]byte
	basicPass   *[sha256.Size]byte
}

// minCredentialLen is the shortest FirstPromoter signing secret, token (after
// its scheme) or Basic Auth password accepted, in characters: as with
// AgentRef's 16-byte secrets, a guessable credential must not be a way in.
const minCredentialLen = 16

func newFirstPromoterVerifier(a FirstPromoterAuth) (*firstPromoterVerifier, error) {
	v := &firstPromoterVerifier{tokenHeader: a.TokenHeader}
	// A blank setting is off; one that is set but short stops the function
	// rather than accept deliveries anyone could forge.
	for i, s := range a.Secrets {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if len(s) < minCredentialLen {
			return nil, configError(fmt.Sprintf("FIRSTPROMOTER_WEBHOOK_SECRETS entry %d has %d characters; at least %d are required", i+1, len(s), minCredentialLen))
		}
		v.secrets = append(v.secrets, newKeyedMAC([]byte(s)))
	}
	if v.tokenHeader == "" {
		v.tokenHeader = "Authorization"
	}
	if token := strings.TrimSpace(a.Token); token != "" {
		credential := token
		if _, rest, ok := strings.Cut(token, " "); ok {
			credential = strings.TrimSpace(rest) // after a scheme such as Bearer
		}
		if len(credential) < minCredentialLen {
			return nil, configError(fmt.Sprintf("FIRSTPROMOTER_WEBHOOK_TOKEN has %d characters after any scheme such as Bearer; at least %d are required", len(credential), minCredentialLen))
		}
		d := sha256.Sum256([]byte(token))
		v.token = &d
	}
	if basic := strings.TrimSpace(a.BasicAuth); basic != "" {
		user, pass, ok := strings.Cut(basic, ":")
		if !ok || user == "" {
			return nil, configError("FIRSTPROMOTER_WEBHOOK_BASIC_AUTH must be user:password")
		}
		if len(pass) < minCredentialLen {
			return nil, configError(fmt.Sprintf("FIRSTPROMOTER_WEBHOOK_BASIC_AUTH has a password of %d characters; at least %d are required", len(pass), minCredentialLen))
		}
		u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		v.basicUser, v.basicPass = &u, &p
	}
	return v, nil
}

func (v *firstPromoterVerifier) configured() bool {
	return len(v.secrets) > 0 || v.token != nil || v.basicUser != nil
}

// equalDigest compares a presented credential with a stored digest without
// leaking its content or its length through timing.
func equalDigest(presented string, want *[sha256.Size]byte) bool {
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func (v *firstPromoterVerifier) verify(h Header, body []byte) error {
	if !v.configured() {
		return reject(ErrUnauthenticated, "no authentication is configured for firstpromoter deliveries: set FIRSTPROMOTER_WEBHOOK_SECRETS, FIRSTPROMOTER_WEBHOOK_TOKEN or FIRSTPROMOTER_WEBHOOK_BASIC_AUTH")
	}
	var tried []string
	if len(v.secrets) > 0 {
		if sig := h.Get("X-Webhook-Signature"); sig != "" {
			if v.signatureMatches(sig, body) {
				return nil
			}
			tried = append(tried, "X-Webhook-Signature does not match any configured signing secret")
		}
	}
	if v.token != nil {
		if tok := h.Get(v.tokenHeader); tok != "" {
			if equalDigest(tok, v.token) {
				return nil
			}
			tried = append(tried, "the "+v.tokenHeader+" header does not carry the configured token")
		}
	}
	if v.basicUser != nil {
		if user, pass, ok := (&http.Request{Header: http.Header{"Authorization": {h.Get("Authorization")}}}).BasicAuth(); ok {
			// Both comparisons always run, so timing does not tell which failed.
			userOK, passOK := equalDigest(user, v.basicUser), equalDigest(pass, v.basicPass)
			if userOK && passOK {
				return nil
			}
			tried = append(tried, "the Basic Auth credentials are wrong")
		}
	}
	if len(tried) == 0 {
		return reject(ErrUnauthenticated, "no credentials: expected %s", v.expected())
	}
	return reject(ErrUnauthenticated, "%s", strings.Join(tried, "; "))
}

func (v *firstPromoterVerifier) expected() string {
	var ways []string
	if len(v.secrets) > 0 {
		ways = append(ways, "an X-Webhook-Signature header")
	}
	if v.token != nil {
		ways = append(ways, "a token in the "+v.tokenHeader+" header")
	}
	if v.basicUser != nil {
		ways = append(ways, "HTTP Basic Auth")
	}
	return strings.Join(ways, " or ")
}

func (v *firstPromoterVerifier) signatureMatches(sig string, body []byte) bool {
	var got [sha256.Size]byte
	if len(sig) != hex.EncodedLen(sha256.Size) {
		return false
	}
	if _, err := hex.Decode(got[:], []byte(sig)); err != nil {
		return false
	}
	for _, secret := range v.secrets {
		want := secret.sum(body)
		if hmac.Equal(want[:], got[:]) {
			return true
		}
	}
	return false
}

// SignFirstPromoter returns the X-Webhook-Signature FirstPromoter sends for
// body when its subscription's secret is secret.
func SignFirstPromoter(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func checkFirstPromoter(body []byte) (Result, error) {
	var env firstPromoterEnvelope
	typ, err := decodeError(json.Unmarshal(body, &env))
	if err != nil {
		return Result{}, err
	}
	r := Result{Provider: FirstPromoter, EventID: env.EventID, EventType: env.EventType}
	if env.Data != nil && env.Data.Test {
		// A test delivery need carry nothing else.
		r.Ignored, r.Reason = "test_delivery", "test delivery acknowledged; nothing applied"
		return r, nil
	}
	if err := apply(&env, typ, "", firstPromoterEnvelopeRules); err != nil {
		return Result{}, err
	}
	if !Handled(FirstPromoter, env.EventType) {
		r.Ignored, r.Reason = "unhandled_event_type", "event type "+quoteShort(env.EventType)+" is not processed; acknowledged"
		return r, nil
	}
	if err := apply(&env, typ, "", firstPromoterCommissionRules); err != nil {
		return Result{}, err
	}
	if err := unnamed(typ, ""); err != nil {
		return Result{}, err
	}
	return r, nil
}
