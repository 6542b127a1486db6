package httpretry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

type answer struct {
	retry bool
	after time.Duration
}

func (a answer) Error() string                { return fmt.Sprintf("answer %v", a.retry) }
func (a answer) Retry() (bool, time.Duration) { return a.retry, a.after }

func TestDo(t *testing.T) {
	for _, tt := range []struct {
		name      string
		errs      []error
		attempts  int
		wantTries int
		wantErr   bool
	}{
		{"success at once", []error{nil}, 4, 1, false},
		{"retried until success", []error{answer{true, 0}, answer{true, 0}, nil}, 4, 3, false},
		{"a final error stops at once", []error{answer{false, 0}, nil}, 4, 1, true},
		{"an unclassified error is retried", []error{errors.New("connection reset"), nil}, 4, 2, false},
		{"the attempts run out", []error{answer{true, 0}, answer{true, 0}, answer{true, 0}}, 3, 3, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var waits []time.Duration
			p := Policy{Attempts: tt.attempts, Base: 100 * time.Millisecond, Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			tries := 0
			err := p.Do(context.Background(), func() (bool, time.Duration, error) {
				e := tt.errs[tries]
				tries++
				return Classify(e)
			})
			if tries != tt.wantTries || (err != nil) != tt.wantErr || len(waits) != tries-1 {
				t.Errorf("tries %d (want %d), err %v, waits %v", tries, tt.wantTries, err, waits)
			}
			for i, w := range waits {
				if w < 0 || w >= 100*time.Millisecond<<i {
					t.Errorf("wait %d is %s: outside [0, %s)", i, w, 100*time.Millisecond<<i)
				}
			}
		})
	}
}

func TestDoHonoursRetryAfterAndTheDeadline(t *testing.T) {
	var waits []time.Duration
	p := Policy{Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	_ = p.Do(context.Background(), func() (bool, time.Duration, error) { return Classify(answer{true, 7 * time.Second}) })
	if len(waits) != 3 || waits[0] != 7*time.Second {
		t.Errorf("waits %v: want three waits of at least the 7 s asked", waits)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	waits = nil
	tries := 0
	err := p.Do(ctx, func() (bool, time.Duration, error) { tries++; return Classify(answer{true, time.Minute}) })
	if tries != 1 || len(waits) != 0 || err == nil {
		t.Errorf("a wait past the deadline: %d tries, waits %v, %v; want the error at once", tries, waits, err)
	}
	// A real wait ends with the context.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	tries = 0
	_ = Policy{}.Do(ctx, func() (bool, time.Duration, error) { tries++; return Classify(answer{true, 0}) })
	if tries != 1 {
		t.Errorf("%d tries with a cancelled context", tries)
	}
}

func TestRetryAfter(t *testing.T) {
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for in, want := range map[string]time.Duration{"": 0, "12": 12 * time.Second, "-3": 0, "soon": 0, "Mon, 02 Jan 2006 15:04:05 GMT": 0} {
		if got := RetryAfter(in); got != want {
			t.Errorf("RetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
	if got := RetryAfter(future); got < 80*time.Second || got > 90*time.Second {
		t.Errorf("RetryAfter(an HTTP date 90 s ahead) = %s", got)
	}
}

func TestReasonDropsTheURL(t *testing.T) {
	err := &url.Error{Op: "Get", URL: "https://api.example/commissions?ids[]=41001&token=x", Err: errors.New("connection refused")}
	if got := Reason(fmt.Errorf("wrapped: %w", err)); got != "Get: connection refused" || strings.Contains(got, "41001") {
		t.Errorf("Reason = %q", got)
	}
	if got := Reason(errors.New("plain")); got != "plain" {
		t.Errorf("Reason(plain) = %q", got)
	}
}
