// Package httpretry is how the platform clients retry a request: a few
// tries with full-jitter exponential backoff, never sooner than the server
// asked (Retry-After), never waiting past the context's deadline. It only
// uses the standard library.
package httpretry

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Policy says how often and how patiently to retry. Its zero value is 4
// tries from a 250 ms base with real waits.
type Policy struct {
	// Attempts is the most tries (default 4).
	Attempts int
	// Base is the backoff's first ceiling (default 250 ms); it doubles
	// with every try.
	Base time.Duration
	// Sleep waits, or fails with the context (tests make it instant or
	// record the waits).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Do calls try until it succeeds or says its error is final, at most
// Attempts times, and returns the last error. try reports whether its
// error is worth another try and how long the server asked to wait. Do
// gives up early, with that error, rather than wait past ctx's deadline.
func (p Policy) Do(ctx context.Context, try func() (retry bool, retryAfter time.Duration, err error)) error {
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	base := p.Base
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	wait := p.Sleep
	if wait == nil {
		wait = Sleep
	}
	var last error
	for attempt := range attempts {
		retry, after, err := try()
		if err == nil {
			return nil
		}
		last = err
		if !retry || attempt == attempts-1 || ctx.Err() != nil {
			break
		}
		d := time.Duration(rand.Int64N(int64(base) << attempt))
		d = max(d, after)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
			break // no time to wait: report now rather than time out
		}
		if err := wait(ctx, d); err != nil {
			break
		}
	}
	return last
}

// Retryable is an error that knows whether another try may help, and how
// long the server asked to wait before it.
type Retryable interface {
	error
	Retry() (bool, time.Duration)
}

// Classify is what Do's try returns for err: a Retryable error decides
// for itself; any other error (a network failure before an answer, an
// undecodable answer) is worth another try.
func Classify(err error) (retry bool, retryAfter time.Duration, _ error) {
	var r Retryable
	if errors.As(err, &r) {
		retry, retryAfter = r.Retry()
		return retry, retryAfter, err
	}
	return err != nil, 0, err
}

// Sleep waits d, or fails with the context's error when it ends first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RetryAfter reads a Retry-After header: seconds or an HTTP date (0 when
// absent, past or unreadable).
func RetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// Reason is a transport error's reason without its URL, whose query may
// carry ids a log should not repeat.
func Reason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
