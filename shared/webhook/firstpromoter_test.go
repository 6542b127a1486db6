package webhook

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	fpToken       = "Bearer tok-4f9a2c7e1b8d3f60"
	fpPassword    = "pa:ss-7c1e9a0d4b8c"
	fpSecret      = "5f2b7c1e9a0d4b8c6e3f1a2b7c9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d"
	fpOtherSecret = "0000000000000000000000000000000000000000000000000000000000000001"
	fpBody        = `{"event_id":"e1","event_type":"commission.created","data":{"id":1}}`
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestFirstPromoterVerify(t *testing.T) {
	sig := SignFirstPromoter(fpSecret, []byte(fpBody))
	sigAuth := FirstPromoterAuth{Secrets: []string{fpSecret}}
	all := FirstPromoterAuth{Secrets: []string{fpSecret}, TokenHeader: "X-Relay-Token", Token: fpToken, BasicAuth: "relay:" + fpPassword}
	tests := []struct {
		name   string
		auth   FirstPromoterAuth
		header Header
		reason string // empty: accepted
	}{
		{name: "signature", auth: sigAuth, header: Header{"x-webhook-signature": sig}},
		{name: "signature, header name in any case", auth: sigAuth, header: Header{"X-WEBHOOK-Signature": sig}},
		{name: "signature in uppercase hex", auth: sigAuth, header: Header{"x-webhook-signature": strings.ToUpper(sig)}},
		{name: "rotation: old secret still accepted", auth: FirstPromoterAuth{Secrets: []string{fpOtherSecret, fpSecret}}, header: Header{"x-webhook-signature": sig}},
		{name: "wrong signature", auth: FirstPromoterAuth{Secrets: []string{fpOtherSecret}}, header: Header{"x-webhook-signature": sig}, reason: "does not match any configured signing secret"},
		{name: "signature with sha256= prefix", auth: sigAuth, header: Header{"x-webhook-signature": "sha256=" + sig}, reason: "does not match"},
		{name: "signature not hex", auth: sigAuth, header: Header{"x-webhook-signature": strings.Repeat("z", 64)}, reason: "does not match"},
		{name: "signature missing", auth: sigAuth, header: Header{}, reason: "no credentials: expected an X-Webhook-Signature header"},
		{name: "token in Authorization by default", auth: FirstPromoterAuth{Token: fpToken}, header: Header{"authorization": fpToken}},
		{name: "token compared whole", auth: FirstPromoterAuth{Token: fpToken}, header: Header{"authorization": strings.TrimPrefix(fpToken, "Bearer ")}, reason: "the Authorization header does not carry the configured token"},
		{name: "token in a custom header", auth: FirstPromoterAuth{TokenHeader: "X-Relay-Token", Token: "t0k-without-a-scheme"}, header: Header{"x-relay-token": "t0k-without-a-scheme"}},
		{name: "token in the wrong header", auth: FirstPromoterAuth{TokenHeader: "X-Relay-Token", Token: "t0k-without-a-scheme"}, header: Header{"authorization": "t0k-without-a-scheme"}, reason: "expected a token in the X-Relay-Token header"},
		{name: "basic auth", auth: FirstPromoterAuth{BasicAuth: "relay:" + fpPassword}, header: Header{"authorization": basic("relay", fpPassword)}},
		{name: "basic auth wrong password", auth: FirstPromoterAuth{BasicAuth: "relay:" + fpPassword}, header: Header{"authorization": basic("relay", "nope")}, reason: "Basic Auth credentials are wrong"},
		{name: "basic auth wrong user", auth: FirstPromoterAuth{BasicAuth: "relay:" + fpPassword}, header: Header{"authorization": basic("other", fpPassword)}, reason: "Basic Auth credentials are wrong"},
		{name: "basic auth malformed", auth: FirstPromoterAuth{BasicAuth: "relay:" + fpPassword}, header: Header{"authorization": "Basic %%%"}, reason: "no credentials: expected HTTP Basic Auth"},
		{name: "all configured, signature works", auth: all, header: Header{"x-webhook-signature": sig}},
		{name: "all configured, token works", auth: all, header: Header{"x-relay-token": fpToken}},
		{name: "all configured, basic works", auth: all, header: Header{"authorization": basic("relay", fpPassword)}},
		{name: "all configured, a wrong one and a right one", auth: all, header: Header{"x-webhook-signature": SignFirstPromoter(fpOtherSecret, []byte(fpBody)), "authorization": basic("relay", fpPassword)}},
		{name: "all configured, every one wrong", auth: all, header: Header{"x-webhook-signature": SignFirstPromoter(fpOtherSecret, []byte(fpBody)), "x-relay-token": fpToken + "x", "authorization": basic("relay", "x")}, reason: "X-Webhook-Signature does not match any configured signing secret; the X-Relay-Token header does not carry the configured token; the Basic Auth credentials are wrong"},
		{name: "all configured, nothing sent", auth: all, header: Header{}, reason: "expected an X-Webhook-Signature header or a token in the X-Relay-Token header or HTTP Basic Auth"},
		{name: "only token configured, signature sent", auth: FirstPromoterAuth{Token: fpToken}, header: Header{"x-webhook-signature": sig}, reason: "no credentials"},
		{name: "nothing configured", header: Header{"x-webhook-signature": sig}, reason: "no authentication is configured for firstpromoter"},
		{name: "blank secrets are not configuration", auth: FirstPromoterAuth{Secrets: []string{" ", ""}}, header: Header{"x-webhook-signature": sig}, reason: "no authentication is configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := newFirstPromoterVerifier(tt.auth)
			if err != nil {
				t.Fatal(err)
			}
			err = v.verify(tt.header, []byte(fpBody))
			checkReason(t, err, ErrUnauthenticated, tt.reason)
			if err != nil {
				for _, secret := range []string{fpSecret, fpToken, fpPassword, sig} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("reason %q echoes a credential", err)
					}
				}
			}
		})
	}
}

func TestFirstPromoterCredentialsAtStartup(t *testing.T) {
	tests := []struct {
		name   string
		auth   FirstPromoterAuth
		reason string // empty: accepted
		secret string // must not appear in the error
	}{
		{name: "basic auth without a colon", auth: FirstPromoterAuth{BasicAuth: "relay"}, reason: "FIRSTPROMOTER_WEBHOOK_BASIC_AUTH must be user:password"},
		{name: "basic auth without a user", auth: FirstPromoterAuth{BasicAuth: ":" + fpPassword}, reason: "must be user:password", secret: fpPassword},
		{name: "basic auth with an empty password", auth: FirstPromoterAuth{BasicAuth: "merchant:"}, reason: "FIRSTPROMOTER_WEBHOOK_BASIC_AUTH has a password of 0 characters; at least 16 are required"},
		{name: "basic auth with a 15-character password", auth: FirstPromoterAuth{BasicAuth: "merchant:" + strings.Repeat("p", 15)}, reason: "password of 15 characters", secret: strings.Repeat("p", 15)},
		{name: "basic auth with a 16-character password", auth: FirstPromoterAuth{BasicAuth: "merchant:" + strings.Repeat("p", 16)}},
		{name: "token of a scheme alone", auth: FirstPromoterAuth{Token: "Bearer"}, reason: "FIRSTPROMOTER_WEBHOOK_TOKEN has 6 characters after any scheme such as Bearer; at least 16 are required"},
		{name: "token of a scheme and a space", auth: FirstPromoterAuth{Token: "Bearer "}, reason: "FIRSTPROMOTER_WEBHOOK_TOKEN has 6 characters"},
		{name: "token of 15 characters after its scheme", auth: FirstPromoterAuth{Token: "Bearer " + strings.Repeat("t", 15)}, reason: "FIRSTPROMOTER_WEBHOOK_TOKEN has 15 characters", secret: strings.Repeat("t", 15)},
		{name: "token of 16 characters after its scheme", auth: FirstPromoterAuth{Token: "Bearer " + strings.Repeat("t", 16)}},
		{name: "token of 15 characters without a scheme", auth: FirstPromoterAuth{Token: strings.Repeat("t", 15)}, reason: "FIRSTPROMOTER_WEBHOOK_TOKEN has 15 characters", secret: strings.Repeat("t", 15)},
		{name: "signing secret of 15 characters", auth: FirstPromoterAuth{Secrets: []string{fpSecret, strings.Repeat("s", 15)}}, reason: "FIRSTPROMOTER_WEBHOOK_SECRETS entry 2 has 15 characters; at least 16 are required", secret: strings.Repeat("s", 15)},
		{name: "signing secret of 16 characters", auth: FirstPromoterAuth{Secrets: []string{strings.Repeat("s", 16)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Settings{FirstPromoter: tt.auth}, time.Now)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("New: %v, want accepted", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("New: got %v, want ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("New: got %q, want it to contain %q", err, tt.reason)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q echoes the credential", err)
			}
		})
	}
}

// TestFirstPromoterBlankCredentialsAreOff: a blank setting is not a
// credential (nothing could present it), so it leaves the method off.
func TestFirstPromoterBlankCredentialsAreOff(t *testing.T) {
	in, err := New(Settings{FirstPromoter: FirstPromoterAuth{Secrets: []string{" "}, Token: "  ", BasicAuth: " \n"}}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if got := in.Unconfigured(); len(got) == 0 || got[0] != FirstPromoter {
		t.Errorf("Unconfigured = %v, want firstpromoter first", got)
	}
}
