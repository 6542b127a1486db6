// Package handler is the RewardsApiFunction's handler: it turns an API
// Gateway HTTP API request (payload format 2.0) into a Rewards API call and
// answers in JSON. The Lambda entry point and the local stack both run it.
package handler

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rewardrelay/rewardrelay/shared/rewardsapi"
	"github.com/rewardrelay/rewardrelay/shared/telemetry"
)

// Handler answers Rewards API requests.
type Handler struct {
	API rewardsapi.API
	Log *slog.Logger
	Now func() time.Time
	// DefaultActor is the actor of a request without an IAM caller: "local"
	// on the local stack, which has no IAM. Empty in AWS, where such a
	// request is refused (the routes require AWS_IAM, so none arrives).
	DefaultActor string
}

// rewardsMetrics counts requests. The outcome (ok, replayed, invalid,
// not_found, insufficient, conflict, key_reused, unavailable, forbidden)
// stays a field of the line, for Logs Insights, rather than a dimension:
// each value would be one more billed custom metric.
var rewardsMetrics = telemetry.NewSpec([][]string{{}},
	telemetry.Metric{Name: "RewardsRequests", Unit: telemetry.Count})

// Handle answers one request. It always returns a nil error: API Gateway
// turns a returned error into a bare 502.
func (h Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := h.Now()
	resp := h.serve(ctx, req)
	raw, err := json.Marshal(resp.Body)
	if err != nil {
		// The bodies are plain structs of strings and numbers.
		raw = []byte(`{"error":"the answer could not be written"}`)
	}
	headers := map[string]string{"content-type": "application/json"}
	for k, v := range resp.Header {
		headers[k] = v
	}
	h.logOutcome(ctx, req, resp, start)
	return events.APIGatewayV2HTTPResponse{StatusCode: resp.Status, Headers: headers, Body: string(raw)}, nil
}

func (h Handler) serve(ctx context.Context, req events.APIGatewayV2HTTPRequest) rewardsapi.Response {
	actor := ""
	if iam := req.RequestContext.Authorizer; iam != nil && iam.IAM != nil {
		actor = iam.IAM.UserARN
	}
	if actor == "" {
		actor = h.DefaultActor
	}
	if actor == "" {
		return rewardsapi.Response{Status: http.StatusForbidden, Body: rewardsapi.ErrorBody{Error: "the request is not signed by an IAM caller"}, Outcome: "forbidden"}
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return rewardsapi.Response{Status: http.StatusBadRequest, Body: rewardsapi.ErrorBody{Error: "body is marked base64 but is not valid base64"}, Outcome: "invalid"}
		}
		body = b
	}
	route := req.RouteKey
	if route == "" {
		route = req.RequestContext.RouteKey
	}
	return h.API.Serve(ctx, rewardsapi.Request{
		Route: route, Params: req.PathParameters, Query: req.RawQueryString, Body: body, Actor: actor,
		Header: func(name string) string { return req.Headers[name] },
	})
}

// logOutcome writes the request's one log line, which is also its metric.
// It names the route and the recipient or redemption, never the body.
func (h Handler) logOutcome(ctx context.Context, req events.APIGatewayV2HTTPRequest, resp rewardsapi.Response, start time.Time) {
	level := slog.LevelInfo
	switch {
	case resp.Status >= 500:
		level = slog.LevelError
	case resp.Status >= 400:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("route", req.RouteKey),
		slog.String("outcome", resp.Outcome),
		slog.Int("status", resp.Status),
		slog.Int("RewardsRequests", 1),
		slog.Float64("latency_ms", float64(h.Now().Sub(start).Microseconds())/1000),
		rewardsMetrics.Attr(start),
	}
	for _, p := range []string{"recipient", "id"} {
		if v := req.PathParameters[p]; v != "" {
			attrs = append(attrs, slog.String(p, v))
		}
	}
	if resp.Err != nil {
		attrs = append(attrs, slog.String("error", resp.Err.Error()))
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("request_id", lc.AwsRequestID))
	}
	h.Log.LogAttrs(ctx, level, "rewards", attrs...)
}
