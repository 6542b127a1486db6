package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks test vector (the Svix scheme AgentRef uses).
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTS     = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	otherSecret  = "whsec_c2Vjb25kLXNlY3JldC0xNi1ieXRlcyE="
)

func TestSignAgentRefMatchesStandardWebhooksVector(t *testing.T) {
	got, err := SignAgentRef(vectorSecret, vectorID, vectorTS, []byte(vectorBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorSig {
		t.Errorf("SignAgentRef = %q, want %q", got, vectorSig)
	}
}

// TestAgentRefSecretSpellings signs and verifies with one key written in
// both base64 alphabets, padded and not: the Standard Webhooks vector, and a
// key whose encoding has the characters the alphabets differ in (+/ and -_)
// and needs padding.
func TestAgentRefSecretSpellings(t *testing.T) {
	vectorKey, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(vectorSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	// 0xfb 0xef 0xbe encodes as "++++" (standard) or "----" (URL-safe),
	// 0xff 0xff 0xff as "////" or "____"; 20 bytes need one "=".
	otherKey := append(bytes.Repeat([]byte{0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff}, 3), 0xfb, 0xff)
	for i, key := range [][]byte{vectorKey, otherKey} {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(vectorID + "." + strconv.Itoa(vectorTS) + "." + vectorBody))
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		for _, enc := range []struct {
			name string
			enc  *base64.Encoding
		}{
			{"standard", base64.StdEncoding},
			{"standard unpadded", base64.RawStdEncoding},
			{"URL-safe", base64.URLEncoding},
			{"URL-safe unpadded", base64.RawURLEncoding},
		} {
			secret := "whsec_" + enc.enc.EncodeToString(key)
			t.Run(fmt.Sprintf("key %d %s", i+1, enc.name), func(t *testing.T) {
				got, err := SignAgentRef(secret, vectorID, vectorTS, []byte(vectorBody))
				if err != nil {
					t.Fatalf("SignAgentRef with the %s secret: %v", enc.name, err)
				}
				if got != want {
					t.Errorf("SignAgentRef with the %s secret = %q, want %q", enc.name, got, want)
				}
				v, err := newAgentRefVerifier(AgentRefAuth{Secrets: []string{secret}})
				if err != nil {
					t.Fatalf("%s secret refused: %v", enc.name, err)
				}
				h := Header{"svix-id": vectorID, "svix-timestamp": strconv.Itoa(vectorTS), "svix-signature": want}
				if err := v.verify(h, []byte(vectorBody), time.Unix(vectorTS, 0)); err != nil {
					t.Errorf("verify with the %s secret: %v", enc.name, err)
				}
			})
		}
		if bytes.Equal(key, vectorKey) && want != vectorSig {
			t.Errorf("the vector signs as %q, want %q", want, vectorSig)
		}
	}
}

func TestAgentRefVerify(t *testing.T) {
	at := time.Unix(vectorTS, 0)
	ts := strconv.Itoa(vectorTS)
	otherSig, err := SignAgentRef(otherSecret, vectorID, vectorTS, []byte(vectorBody))
	if err != nil {
		t.Fatal(err)
	}
	headers := func(id, ts, sig string) Header {
		return Header{"svix-id": id, "svix-timestamp": ts, "svix-signature": sig}
	}
	// signedAt is a delivery correctly signed at Unix time sec: only the
	// replay window can refuse it.
	signedAt := func(sec int64) Header {
		sig, err := SignAgentRef(vectorSecret, vectorID, sec, []byte(vectorBody))
		if err != nil {
			t.Fatal(err)
		}
		return headers(vectorID, strconv.FormatInt(sec, 10), sig)
	}
	tests := []struct {
		name    string
		secrets []string
		header  Header
		body    string
		now     time.Time
		reason  string // empty: accepted
	}{
		{name: "standard vector", secrets: []string{vectorSecret}, header: headers(vectorID, ts, vectorSig), now: at},
		{name: "secret without whsec_ prefix", secrets: []string{strings.TrimPrefix(vectorSecret, "whsec_")}, header: headers(vectorID, ts, vectorSig), now: at},
		{name: "rotation: signed with the second secret", secrets: []string{vectorSecret, otherSecret}, header: headers(vectorID, ts, otherSig), now: at},
		{name: "rotation: several signatures, last one valid", secrets: []string{vectorSecret}, header: headers(vectorID, ts, otherSig+" "+vectorSig), now: at},
		{name: "unknown versions are skipped", secrets: []string{vectorSecret}, header: headers(vectorID, ts, "v1a,abc v2,"+vectorSig[3:]+" "+vectorSig), now: at},
		{name: "4m59s late", secrets: []string{vectorSecret}, header: headers(vectorID, ts, vectorSig), now: at.Add(4*time.Minute + 59*time.Second)},
		{name: "4m59s early", secrets: []string{vectorSecret}, header: headers(vectorID, ts, vectorSig), now: at.Add(-4*time.Minute - 59*time.Second)},
		{name: "exactly 5m late", secrets: []string{vectorSecret}, header: headers(vectorID, ts, vectorSig), now: at.Add(5 * time.Minute)},
		{name: "5m01s late", secrets: []string{vectorSecret}, header: headers(vectorID, ts, vectorSig), now: at.Add(5*time.Minute + time.Second), reason: "svix-timestamp is 5m1s in the past"},
		{name: "5m01s early", secrets: []string{vectorSecret}, header: headers(vectorID, ts, vectorSig), now: at.Add(-5*time.Minute - time.Second), reason: "svix-timestamp is 5m1s in the future"},
		{name: "signed 5m in the future", secrets: []string{vectorSecret}, header: signedAt(vectorTS + 300), now: at},
		{name: "signed 5m01s in the future", secrets: []string{vectorSecret}, header: signedAt(vectorTS + 301), now: at, reason: "svix-timestamp is 5m1s in the future"},
		{name: "signed a year in the future", secrets: []string{vectorSecret}, header: signedAt(vectorTS + 365*24*3600), now: at, reason: "svix-timestamp is 8760h0m0s in the future"},
		{name: "signed in the year 5138", secrets: []string{vectorSecret}, header: signedAt(99999999999), now: at, reason: "svix-timestamp is 98385734669s in the future"},
		{name: "signed at the largest int64", secrets: []string{vectorSecret}, header: signedAt(math.MaxInt64), now: at, reason: "svix-timestamp is 9223372035240510477s in the future"},
		{name: "signed at 0", secrets: []string{vectorSecret}, header: signedAt(0), now: at, reason: "svix-timestamp is 448407h2m10s in the past"},
		{name: "signed at -1", secrets: []string{vectorSecret}, header: signedAt(-1), now: at, reason: "in the past"},
		{name: "signed at the smallest int64", secrets: []string{vectorSecret}, header: signedAt(math.MinInt64), now: at, reason: "svix-timestamp is 9223372038469041138s in the past"},
		{name: "smallest int64 against a clock at the largest", secrets: []string{vectorSecret}, header: signedAt(math.MinInt64), now: time.Unix(math.MaxInt64, 0), reason: "svix-timestamp is 18446744073709551615s in the past"},
		{name: "wrong secret", secrets: []string{otherSecret}, header: headers(vectorID, ts, vectorSig), now: at, reason: "no v1 signature that matches"},
		{name: "body changed", secrets: []string{vectorSecret}, header: headers(vectorID, ts, vectorSig), body: `{"test": 2432232315}`, now: at, reason: "no v1 signature that matches"},
		{name: "id changed", secrets: []string{vectorSecret}, header: headers("msg_other", ts, vectorSig), now: at, reason: "no v1 signature that matches"},
		{name: "timestamp changed", secrets: []string{vectorSecret}, header: headers(vectorID, strconv.Itoa(vectorTS+1), vectorSig), now: at, reason: "no v1 signature that matches"},
		{name: "missing id", secrets: []string{vectorSecret}, header: headers("", ts, vectorSig), now: at, reason: "missing svix-id"},
		{name: "missing timestamp", secrets: []string{vectorSecret}, header: headers(vectorID, "", vectorSig), now: at, reason: "missing svix-timestamp"},
		{name: "missing signature", secrets: []string{vectorSecret}, header: headers(vectorID, ts, ""), now: at, reason: "missing svix-signature"},
		{name: "timestamp in milliseconds text", secrets: []string{vectorSecret}, header: headers(vectorID, "2021-02-25T15:02:10Z", vectorSig), now: at, reason: "not a Unix time"},
		{name: "signature without version", secrets: []string{vectorSecret}, header: headers(vectorID, ts, vectorSig[3:]), now: at, reason: "no v1 signature"},
		{name: "signature not base64", secrets: []string{vectorSecret}, header: headers(vectorID, ts, "v1,!!!!"), now: at, reason: "no v1 signature"},
		{name: "signature truncated", secrets: []string{vectorSecret}, header: headers(vectorID, ts, vectorSig[:20]), now: at, reason: "no v1 signature"},
		{name: "44 characters without padding (33 bytes)", secrets: []string{vectorSecret}, header: headers(vectorID, ts, "v1,"+strings.Repeat("A", 44)), now: at, reason: "no v1 signature"},
		{name: "33-byte signature before a valid one", secrets: []string{vectorSecret}, header: headers(vectorID, ts, "v1,"+strings.Repeat("/", 44)+" "+vectorSig), now: at},
		{name: "signature without its padding", secrets: []string{vectorSecret}, header: headers(vectorID, ts, strings.TrimSuffix(vectorSig, "=")), now: at, reason: "no v1 signature"},
		{name: "signature with non-zero padding bits", secrets: []string{vectorSecret}, header: headers(vectorID, ts, strings.TrimSuffix(vectorSig, "E=")+"F="), now: at, reason: "no v1 signature"},
		{name: "signature in the URL-safe alphabet", secrets: []string{vectorSecret}, header: headers(vectorID, ts, strings.NewReplacer("+", "-", "/", "_").Replace(vectorSig)), now: at, reason: "no v1 signature"},
		{name: "signature with extra characters", secrets: []string{vectorSecret}, header: headers(vectorID, ts, vectorSig+"AAAA"), now: at, reason: "no v1 signature"},
		{name: "signature of 64 bytes", secrets: []string{vectorSecret}, header: headers(vectorID, ts, "v1,"+strings.Repeat("A", 88)), now: at, reason: "no v1 signature"},
		{name: "only separators", secrets: []string{vectorSecret}, header: headers(vectorID, ts, "   ,  "), now: at, reason: "no v1 signature"},
		{name: "nothing configured", header: headers(vectorID, ts, vectorSig), now: at, reason: "no authentication is configured for agentref"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := newAgentRefVerifier(AgentRefAuth{Secrets: tt.secrets})
			if err != nil {
				t.Fatal(err)
			}
			body := tt.body
			if body == "" {
				body = vectorBody
			}
			err = v.verify(tt.header, []byte(body), tt.now)
			checkReason(t, err, ErrUnauthenticated, tt.reason)
		})
	}
}

func TestAgentRefSecretsRefusedAtStartup(t *testing.T) {
	tests := []struct {
		name, secret, reason string
	}{
		{"too short", "whsec_" + "c2hvcnQ=", "decodes to 5 bytes; at least 16"},
		{"15 bytes", "whsec_MTIzNDU2Nzg5MDEyMzQ1", "decodes to 15 bytes"},
		{"not base64", "whsec_not*base64", "entry 2 is not whsec_ followed by base64"},
		{"both alphabets at once", "whsec_ab+c-def/ghi_jklmnopqrstu", "entry 2 is not whsec_ followed by base64"},
		{"wrong padding", "whsec_MTIzNDU2Nzg5MDEyMzQ1Ng=", "entry 2 is not whsec_ followed by base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Settings{AgentRef: AgentRefAuth{Secrets: []string{vectorSecret, tt.secret}}}, time.Now)
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("New: got %v, want ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("New: got %q, want it to contain %q", err, tt.reason)
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
}

// checkReason fails unless err is nil when reason is empty, or a *Rejection
// of kind wanting reason in its text.
func checkReason(t *testing.T, err, kind error, reason string) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("got %v, want accepted", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted, want rejection %q", reason)
	}
	if !errors.Is(err, kind) {
		t.Errorf("got kind of %v, want %v", err, kind)
	}
	var r *Rejection
	if !errors.As(err, &r) {
		t.Fatalf("got %T, want *Rejection", err)
	}
	if !strings.Contains(r.Reason, reason) {
		t.Errorf("reason %q, want it to contain %q", r.Reason, reason)
	}
}
