package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// SignatureTolerance is how far svix-timestamp may be from the clock, in
// either direction, before a delivery is refused as a possible replay.
const SignatureTolerance = 5 * time.Minute

// minSecretBytes is the shortest decoded AgentRef secret accepted.
const minSecretBytes = 16

// signatureLen is the length of a v1 signature: the standard, padded
// base64 of an HMAC-SHA256 (44 characters).
const signatureLen = (sha256.Size + 2) / 3 * 4

// AgentRefAuth configures AgentRef deliveries (the Svix signature scheme).
type AgentRefAuth struct {
	// Secrets are "whsec_<base64>" signing secrets, in the standard or the
	// URL-safe alphabet, padded or not; several allow rotation.
	Secrets []string
	// Environment is the envelope environment accepted (default production);
	// events of another environment are acknowledged and ignored.
	Environment string
	// MerchantID, when set, pins the envelope's merchantId: a delivery for
	// another merchant is refused.
	MerchantID string
}

type agentRefVerifier struct {
	keys        []*keyedMAC
	environment string
	merchantID  string
}

func newAgentRefVerifier(a AgentRefAuth) (*agentRefVerifier, error) {
	v := &agentRefVerifier{environment: a.Environment, merchantID: strings.TrimSpace(a.MerchantID)}
	if v.environment == "" {
		v.environment = "production"
	}
	for i, s := range a.Secrets {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		key, err := decodeSecret(s)
		if err != nil {
			return nil, configError(fmt.Sprintf("AGENTREF_WEBHOOK_SECRETS entry %d is not whsec_ followed by base64", i+1))
		}
		if len(key) < minSecretBytes {
			return nil, configError(fmt.Sprintf("AGENTREF_WEBHOOK_SECRETS entry %d decodes to %d bytes; at least %d are required", i+1, len(key), minSecretBytes))
		}
		v.keys = append(v.keys, newKeyedMAC(key))
	}
	return v, nil
}

func (v *agentRefVerifier) configured() bool { return len(v.keys) > 0 }

func (v *agentRefVerifier) verify(h Header, body []byte, now time.Time) error {
	if !v.configured() {
		return reject(ErrUnauthenticated, "no authentication is configured for agentref deliveries: set AGENTREF_WEBHOOK_SECRETS")
	}
	id, ts, sigs := h.Get("svix-id"), h.Get("svix-timestamp"), h.Get("svix-signature")
	switch {
	case id == "":
		return reject(ErrUnauthenticated, "missing svix-id header")
	case ts == "":
		return reject(ErrUnauthenticated, "missing svix-timestamp header")
	case sigs == "":
		return reject(ErrUnauthenticated, "missing svix-signature header")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return reject(ErrUnauthenticated, "svix-timestamp is not a Unix time in seconds")
	}
	// Seconds, not time.Duration: a Duration saturates near 292 years, so a
	// far timestamp would look close.
	past, skew := distance(now.Unix(), sec)
	if skew > uint64(SignatureTolerance/time.Second) {
		if past {
			return reject(ErrUnauthenticated, "svix-timestamp is %s in the past; deliveries more than %s old are refused as replays", seconds(skew), SignatureTolerance)
		}
		return reject(ErrUnauthenticated, "svix-timestamp is %s in the future; check the sender's clock", seconds(skew))
	}
	var macs [4][sha256.Size]byte // typical rotation sizes stay on the stack
	expected := macs[:0]
	for _, key := range v.keys {
		expected = append(expected, key.sum([]byte(id), []byte{'.'}, []byte(ts), []byte{'.'}, body))
	}
	for field := range strings.FieldsSeq(sigs) {
		version, b64, ok := strings.Cut(field, ",")
		if !ok || version != "v1" || len(b64) != signatureLen {
			continue
		}
		// Room for all that signatureLen characters can decode to (33
		// bytes, not 32): the length is checked after decoding.
		var buf [signatureLen / 4 * 3]byte
		got, err := base64.StdEncoding.Strict().AppendDecode(buf[:0], []byte(b64))
		if err != nil || len(got) != sha256.Size {
			continue
		}
		for i := range expected {
			if hmac.Equal(got, expected[i][:]) {
				return nil
			}
		}
	}
	return reject(ErrUnauthenticated, "svix-signature has no v1 signature that matches a configured secret")
}

// decodeSecret returns the key of a "whsec_<base64>" secret. The base64 may
// use the standard or the URL-safe alphabet, with or without padding:
// AgentRef's own sample secret is URL-safe.
func decodeSecret(secret string) ([]byte, error) {
	b64 := strings.TrimPrefix(secret, "whsec_")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(b64, "-_") {
		enc = base64.RawURLEncoding
	}
	if strings.HasSuffix(b64, "=") {
		enc = enc.WithPadding(base64.StdPadding)
	}
	return enc.DecodeString(b64)
}

// distance returns how many seconds lie between now and t, and whether t is
// before now. Two's-complement subtraction in uint64 is exact here: the
// distance between two int64 values always fits.
func distance(now, t int64) (past bool, d uint64) {
	if t <= now {
		return true, uint64(now) - uint64(t)
	}
	return false, uint64(t) - uint64(now)
}

// seconds writes a distance in seconds as a duration (5m1s), or as a count
// of seconds where a duration cannot hold it.
func seconds(d uint64) string {
	if d > uint64(math.MaxInt64/int64(time.Second)) {
		return strconv.FormatUint(d, 10) + "s"
	}
	return (time.Duration(d) * time.Second).String()
}

// SignAgentRef returns the svix-signature value AgentRef sends for body with
// the given message id and Unix timestamp, signed with secret ("whsec_...").
func SignAgentRef(secret, id string, ts int64, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", fmt.Errorf("sign agentref: secret is not whsec_ followed by base64: %w", err)
	}
	mac := newKeyedMAC(key).sum([]byte(id), []byte{'.'}, []byte(strconv.FormatInt(ts, 10)), []byte{'.'}, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac[:]), nil
}

func (v *agentRefVerifier) check(body []byte) (Result, error) {
	var env agentRefEnvelope
	typ, err := decodeError(json.Unmarshal(body, &env))
	if err != nil {
		return Result{}, err
	}
	if err := apply(&env, typ, "", agentRefEnvelopeRules); err != nil {
		return Result{}, err
	}
	if err := unnamed(typ, ""); err != nil {
		return Result{}, err
	}
	if v.merchantID != "" && env.MerchantID != v.merchantID {
		return Result{}, reject(ErrUnauthenticated, "merchantId is not this deployment's merchant (AGENTREF_MERCHANT_ID): the delivery is for another AgentRef account")
	}
	r := Result{Provider: AgentRef, EventID: env.ID, EventType: env.Type}
	switch {
	case env.Environment != v.environment:
		r.Ignored, r.Reason = "other_environment", "environment "+quoteShort(env.Environment)+" is not "+quoteShort(v.environment)+"; acknowledged"
	case !Handled(AgentRef, env.Type):
		r.Ignored, r.Reason = "unhandled_event_type", "event type "+quoteShort(env.Type)+" is not processed; acknowledged"
	default:
		if err := apply(&env, nil, "", agentRefQueuedRules); err != nil {
			return Result{}, err
		}
		if data := agentRefData[env.Type]; data != nil {
			if err := data(env.Data); err != nil {
				return Result{}, err
			}
		}
	}
	return r, nil
}
