// Package handler is the WebhookFunction's handler: it turns an API Gateway
// HTTP API request into an ingest decision, queues accepted deliveries and
// answers with a status the platform understands. The Lambda entry point and
// the local stack both run it.
package handler

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rewardrelay/rewardrelay/shared/telemetry"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

// Queue takes accepted deliveries. An error means the delivery was not
// queued and the platform must retry it.
type Queue interface {
	Send(ctx context.Context, d webhook.Delivery) error
}

// Handler answers webhook deliveries from API Gateway (HTTP API, payload
// format 2.0).
type Handler struct {
	Ingest *webhook.Ingest
	Queue  Queue
	Log    *slog.Logger
	Now    func() time.Time
}

// refusal maps each kind of rejection to its status and metric code: the one
// place a status code is chosen.
var refusal = []struct {
	kind   error
	status int
	code   string
}{
	{webhook.ErrMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed"},
	{webhook.ErrUnknownProvider, http.StatusNotFound, "unknown_provider"},
	{webhook.ErrTooLarge, http.StatusRequestEntityTooLarge, "too_large"},
	{webhook.ErrUnsupportedMediaType, http.StatusUnsupportedMediaType, "unsupported_media_type"},
	{webhook.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
	{webhook.ErrMalformed, http.StatusBadRequest, "malformed"},
}

// webhookMetrics counts deliveries by outcome: what the alarms and the
// dashboard use. The provider and the refusal's code stay fields of the
// line, for Logs Insights, rather than dimensions: every combination would
// be one more billed custom metric (by provider, three times as many).
var webhookMetrics = telemetry.NewSpec([][]string{{"outcome"}},
	telemetry.Metric{Name: "Webhooks", Unit: telemetry.Count})

// jsonHeaders are the headers of every response; shared, never modified.
var jsonHeaders = map[string]string{"content-type": "application/json"}

// response is every JSON body the function answers with.
type response struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// outcome is what one request came to, for the response and the log line.
type outcome struct {
	status    int
	result    string // accepted, ignored or rejected
	code      string // why, for ignored and rejected
	reason    string
	provider  string
	eventID   string
	eventType string
}

// Handle answers one delivery. It always returns a nil error: API Gateway
// turns a returned error into a bare 502 with no reason.
func (h Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := h.Now()
	o := h.handle(ctx, req, start)
	body := response{Reason: o.reason}
	switch o.result {
	case "accepted":
		body.Status, body.ID, body.Reason = "queued", o.eventID, ""
	case "ignored":
		body.Status = "ignored"
	default:
		body.Error, body.Reason = o.reason, ""
	}
	raw, _ := json.Marshal(body) // strings only: cannot fail
	h.logOutcome(ctx, o, start)
	return events.APIGatewayV2HTTPResponse{
		StatusCode: o.status,
		Headers:    jsonHeaders,
		Body:       string(raw),
	}, nil
}

func (h Handler) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest, start time.Time) outcome {
	provider := req.PathParameters["provider"]
	o := outcome{provider: "unknown"}
	if webhook.Provider(provider) == webhook.FirstPromoter || webhook.Provider(provider) == webhook.AgentRef {
		o.provider = provider
	}
	body, err := requestBody(req)
	if err != nil {
		o.status, o.result, o.code, o.reason = http.StatusBadRequest, "rejected", "malformed", "body is marked base64 but is not valid base64"
		return o
	}
	res, err := h.Ingest.Check(webhook.Request{
		Method:   req.RequestContext.HTTP.Method,
		Provider: provider,
		Header:   webhook.Header(req.Headers),
		Body:     body,
	})
	if err != nil {
		return rejected(o, err)
	}
	o.eventID, o.eventType = res.EventID, res.EventType
	if res.Ignored != "" {
		o.status, o.result, o.code, o.reason = http.StatusOK, "ignored", res.Ignored, res.Reason
		return o
	}
	err = h.Queue.Send(ctx, webhook.Delivery{
		Provider:   res.Provider,
		EventID:    res.EventID,
		EventType:  res.EventType,
		ReceivedAt: start,
		Body:       body,
	})
	if err != nil {
		h.Log.ErrorContext(ctx, "enqueue failed", "provider", o.provider, "event_id", o.eventID, "error", err)
		o.status, o.result, o.code, o.reason = http.StatusServiceUnavailable, "rejected", "queue_unavailable", "the queue is unavailable; the delivery was not accepted, retry later"
		return o
	}
	o.status, o.result = http.StatusAccepted, "accepted"
	return o
}

func rejected(o outcome, err error) outcome {
	o.status, o.result, o.code = http.StatusBadRequest, "rejected", "malformed"
	for _, r := range refusal {
		if errors.Is(err, r.kind) {
			o.status, o.code = r.status, r.code
			break
		}
	}
	var rej *webhook.Rejection
	if errors.As(err, &rej) {
		o.reason = rej.Reason
	} else {
		o.reason = "the delivery could not be checked"
	}
	return o
}

// requestBody returns the raw body, decoding it when API Gateway base64-encoded
// it (it does so for content types it does not consider text).
func requestBody(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	if !req.IsBase64Encoded {
		return []byte(req.Body), nil
	}
	return base64.StdEncoding.DecodeString(req.Body)
}

// logOutcome writes the request's one log line, which is also its EMF metric.
func (h Handler) logOutcome(ctx context.Context, o outcome, start time.Time) {
	level := slog.LevelInfo
	if o.result == "rejected" {
		level = slog.LevelWarn
	}
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String("provider", o.provider),
		slog.String("outcome", o.result),
		slog.Int("status", o.status),
		slog.Int("Webhooks", 1),
		slog.Float64("latency_ms", float64(h.Now().Sub(start).Microseconds())/1000),
		webhookMetrics.Attr(start),
	)
	if o.eventID != "" {
		attrs = append(attrs, slog.String("event_id", o.eventID), slog.String("event_type", o.eventType))
	}
	if o.code != "" {
		attrs = append(attrs, slog.String("code", o.code), slog.String("reason", o.reason))
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("request_id", lc.AwsRequestID))
	}
	h.Log.LogAttrs(ctx, level, "webhook", attrs...)
}
