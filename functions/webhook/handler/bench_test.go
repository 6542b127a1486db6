package handler

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// sizedBody returns a FirstPromoter commission envelope of about size bytes.
func sizedBody(size int) string {
	head := `{"event_id":"0b7f6a0e-5d1c-4c1e-9a51-3f2d6c9b0a02","event_type":"commission.updated","action":"updated","entity_type":"commission","entity_id":41001,"changes":{"status":["pending","approved"]},"data":{"id":41001,"status":"approved","amount":500,"unit":"points","referral":{"id":9001,"uid":"cust-9001"},"metadata":[`
	var b strings.Builder
	b.WriteString(head)
	for i := 0; b.Len() < size-64; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"key":"k%d","value":"v%d"}`, i, i)
	}
	b.WriteString(`]},"timestamp":"2026-11-20T11:59:30Z"}`)
	return b.String()
}

type noopQueue struct{}

func (noopQueue) Send(_ context.Context, _ webhook.Delivery) error { return nil }

// BenchmarkHandle measures a whole accepted FirstPromoter delivery through
// the handler (authentication, validation, response, log line) with a queue
// that does nothing; BenchmarkFloor is the least any handler must do with
// the same body.
func BenchmarkHandle(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		body := sizedBody(size)
		e := fpEvent(body)
		in, err := webhook.New(bothConfigured(), time.Now)
		if err != nil {
			b.Fatal(err)
		}
		h := Handler{Ingest: in, Queue: noopQueue{}, Log: telemetry.NewLogger(io.Discard, os.Getenv("BENCH_LOG_LEVEL")), Now: time.Now}
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			ctx := b.Context()
			for b.Loop() {
				resp, _ := h.Handle(ctx, e)
				if resp.StatusCode != 202 {
					b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
				}
			}
		})
	}
}

// BenchmarkFloor is HMAC-SHA256 of the body plus a JSON validity check.
func BenchmarkFloor(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		body := sizedBody(size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			key := []byte(fpSecret)
			for b.Loop() {
				raw := []byte(body)
				mac := hmac.New(sha256.New, key)
				mac.Write(raw)
				if len(mac.Sum(nil)) != sha256.Size || !json.Valid(raw) {
					b.Fatal("floor failed")
				}
			}
		})
	}
}

func TestSizedBodyIsAValidDelivery(t *testing.T) {
	for _, size := range []int{1 << 10, 16 << 10} {
		body := sizedBody(size)
		if len(body) < size*9/10 || len(body) > size*11/10 {
			t.Errorf("sizedBody(%d) is %d bytes", size, len(body))
		}
		hs := newHarness(t, bothConfigured())
		resp, _ := hs.h.Handle(t.Context(), fpEvent(body))
		if resp.StatusCode != 202 {
			t.Errorf("sizedBody(%d): status %d: %s", size, resp.StatusCode, resp.Body)
		}
	}
}
