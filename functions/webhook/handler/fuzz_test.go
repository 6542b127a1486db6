package handler

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// svixSignature builds an svix-signature value: raw as given, then one
// "v1," entry per byte of shape (at most 8): the low 6 bits are its length
// in base64 characters, bit 6 pads it with "=" to a multiple of 4, bit 7
// writes it in the URL-safe alphabet. Entries are valid base64 text of
// every length, so that decoding (not only parsing) meets each one.
func svixSignature(raw string, shape []byte) string {
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	const url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var b strings.Builder
	b.WriteString(raw)
	for i, s := range shape[:min(len(shape), 8)] {
		alphabet := std
		if s&0x80 != 0 {
			alphabet = url
		}
		n := int(s & 0x3f)
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		for j := range n {
			b.WriteByte(alphabet[(i*29+j*37)%64])
		}
		if s&0x40 != 0 && n%4 != 0 {
			b.WriteString("===="[:4-n%4])
		}
	}
	return b.String()
}

// FuzzHandle feeds arbitrary bodies and structured AgentRef headers:
// svix-signature entries of every length, padded or not, in either
// alphabet, beside arbitrary text and, when sign is set, the right
// signature last; svix-timestamp anywhere from the smallest to the largest
// int64 around the clock. The handler must never panic, never return an
// error, never answer 5xx while the queue works, never accept an AgentRef
// delivery that is unsigned or signed outside the replay window, and give
// every refusal a reason.
func FuzzHandle(f *testing.F) {
	now := testNow.Unix()
	for _, s := range samples {
		f.Add(s.provider, s.body, "application/json", false, int64(0), []byte(nil), "", s.provider == "agentref")
	}
	f.Add("firstpromoter", `{"event_id":"e","event_type":"commission.created","data":{"test":"yes"}}`, "application/json", false, int64(0), []byte(nil), "", false)
	f.Add("firstpromoter", `{"event_id":"e","event_type":"commission.updated","changes":{"status":["pending"]},"data":{"id":"7","amount":1.5}}`, "application/json", false, int64(0), []byte(nil), "", false)
	f.Add("agentref", `{"id":"m","type":"x","schemaVersion":2.5}`, "application/json; charset=utf-8", false, int64(0), []byte(nil), "v1,AAAA v1,", false)
	f.Add("agentref", arCreated, "application/json", false, int64(0), []byte{0x40 | 43, 0x80 | 43, 32}, "v1a,x v2,", false)
	f.Add("agentref", arCreated, "application/json", false, int64(0), []byte{0x40 | 42, 0x40 | 0x80 | 40}, "", true)
	f.Add("agentref", arCreated, "application/json", false, int64(301), []byte(nil), "", true)
	f.Add("agentref", arCreated, "application/json", false, int64(-301), []byte(nil), "", true)
	f.Add("agentref", arCreated, "application/json", false, 99999999999-now, []byte(nil), "", true)
	f.Add("agentref", arCreated, "application/json", false, math.MaxInt64-now, []byte(nil), "", true)
	f.Add("agentref", arCreated, "application/json", false, math.MinInt64-now, []byte(nil), "", true) // wraps: signed at the smallest int64
	f.Add("agentref", arCreated, "application/json", false, int64(math.MaxInt64), []byte(nil), "", true)
	f.Add("agentref", strings.Replace(arCreated, `"commissionAmount":2000`, `"commission":2e3`, 1), "application/json", false, int64(0), []byte(nil), "", true)
	f.Add("firstpromoter", "eyJhIjoxfQ==", "application/octet-stream", true, int64(0), []byte(nil), "", false)
	f.Add("firstpromoter", "\xff\xfe", "application/json", false, int64(0), []byte(nil), "zz", false)
	f.Add("", "", "", false, int64(0), []byte(nil), "", false)
	in, err := webhook.New(bothConfigured(), func() time.Time { return testNow })
	if err != nil {
		f.Fatal(err)
	}
	h := Handler{Ingest: in, Queue: noopQueue{}, Log: discardLogger(), Now: time.Now}
	f.Fuzz(func(t *testing.T, provider, body, contentType string, b64 bool, skew int64, shape []byte, rawSig string, sign bool) {
		ts := now + skew // wraps at the int64 extremes, as a sender's value may be anything
		sig := svixSignature(rawSig, shape)
		if sign {
			valid, err := webhook.SignAgentRef(arSecret, "msg_1", ts, []byte(body))
			if err != nil {
				t.Fatal(err)
			}
			sig = strings.TrimSpace(sig + " " + valid)
		}
		headers := map[string]string{"content-type": contentType, "svix-id": "msg_1", "svix-timestamp": strconv.FormatInt(ts, 10), "svix-signature": sig}
		if provider == "firstpromoter" {
			// Sign correctly so the fuzzer reaches envelope validation.
			headers["x-webhook-signature"] = webhook.SignFirstPromoter(fpSecret, []byte(body))
		}
		e := httpEvent("POST", provider, headers, body)
		e.IsBase64Encoded = b64
		resp, err := h.Handle(t.Context(), e)
		if err != nil {
			t.Fatalf("Handle returned error %v", err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for bad input: %s", resp.StatusCode, resp.Body)
		}
		var parsed map[string]string
		if err := json.Unmarshal([]byte(resp.Body), &parsed); err != nil {
			t.Fatalf("response body is not JSON: %q", resp.Body)
		}
		if resp.StatusCode >= 400 && parsed["error"] == "" {
			t.Fatalf("refusal without a reason: %q", resp.Body)
		}
		if provider == "agentref" && resp.StatusCode < 300 {
			if !sign {
				t.Fatalf("accepted an AgentRef delivery that carries no valid signature (svix-signature %q): %s", sig, resp.Body)
			}
			if ts < now-300 || ts > now+300 {
				t.Fatalf("accepted an AgentRef delivery signed at %d, %d seconds from the clock: %s", ts, skew, resp.Body)
			}
		}
	})
}
