package webhook

import (
	"encoding/base64"
	"strings"
	"testing"
)

const (
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
	all := FirstPromoterAuth{Secrets: []string{fpSecret}, TokenHeader: "X-Relay-Token", Token: "Bearer abc", BasicAuth: "relay:pa:ss"}
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
		{name: "token in Authorization by default", auth: FirstPromoterAuth{Token: "Bearer abc"}, header: Header{"authorization": "Bearer abc"}},
		{name: "token compared whole", auth: FirstPromoterAuth{Token: "Bearer abc"}, header: Header{"authorization": "abc"}, reason: "the Authorization header does not carry the configured token"},
		{name: "token in a custom header", auth: FirstPromoterAuth{TokenHeader: "X-Relay-Token", Token: "t0k"}, header: Header{"x-relay-token": "t0k"}},
		{name: "token in the wrong header", auth: FirstPromoterAuth{TokenHeader: "X-Relay-Token", Token: "t0k"}, header: Header{"authorization": "t0k"}, reason: "expected a token in the X-Relay-Token header"},
		{name: "basic auth", auth: FirstPromoterAuth{BasicAuth: "relay:pa:ss"}, header: Header{"authorization": basic("relay", "pa:ss")}},
		{name: "basic auth wrong password", auth: FirstPromoterAuth{BasicAuth: "relay:pa:ss"}, header: Header{"authorization": basic("relay", "nope")}, reason: "Basic Auth credentials are wrong"},
		{name: "basic auth wrong user", auth: FirstPromoterAuth{BasicAuth: "relay:pa:ss"}, header: Header{"authorization": basic("other", "pa:ss")}, reason: "Basic Auth credentials are wrong"},
		{name: "basic auth malformed", auth: FirstPromoterAuth{BasicAuth: "relay:pa:ss"}, header: Header{"authorization": "Basic %%%"}, reason: "no credentials: expected HTTP Basic Auth"},
		{name: "all configured, signature works", auth: all, header: Header{"x-webhook-signature": sig}},
		{name: "all configured, token works", auth: all, header: Header{"x-relay-token": "Bearer abc"}},
		{name: "all configured, basic works", auth: all, header: Header{"authorization": basic("relay", "pa:ss")}},
		{name: "all configured, a wrong one and a right one", auth: all, header: Header{"x-webhook-signature": SignFirstPromoter(fpOtherSecret, []byte(fpBody)), "authorization": basic("relay", "pa:ss")}},
		{name: "all configured, every one wrong", auth: all, header: Header{"x-webhook-signature": SignFirstPromoter(fpOtherSecret, []byte(fpBody)), "x-relay-token": "Bearer abd", "authorization": basic("relay", "x")}, reason: "X-Webhook-Signature does not match any configured signing secret; the X-Relay-Token header does not carry the configured token; the Basic Auth credentials are wrong"},
		{name: "all configured, nothing sent", auth: all, header: Header{}, reason: "expected an X-Webhook-Signature header or a token in the X-Relay-Token header or HTTP Basic Auth"},
		{name: "only token configured, signature sent", auth: FirstPromoterAuth{Token: "Bearer abc"}, header: Header{"x-webhook-signature": sig}, reason: "no credentials"},
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
				for _, secret := range []string{fpSecret, "abc", "pa:ss", sig} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("reason %q echoes a credential", err)
					}
				}
			}
		})
	}
}

func TestFirstPromoterBasicAuthSettingNeedsAColon(t *testing.T) {
	if _, err := New(Settings{FirstPromoter: FirstPromoterAuth{BasicAuth: "relay"}}, nil); err == nil || !strings.Contains(err.Error(), "user:password") {
		t.Errorf("New: got %v, want an error asking for user:password", err)
	}
}
