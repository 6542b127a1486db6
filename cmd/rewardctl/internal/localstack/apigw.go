package localstack

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// maxAPIBody is API Gateway's payload limit.
const maxAPIBody = 10 << 20

// httpHandlerFunc is a Lambda handler for HTTP API events.
type httpHandlerFunc func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// route is one HTTP API route: "POST /webhooks/{provider}".
type route struct {
	method   string
	segments []string // literal segments, or "{name}" for a path parameter
	key      string
	handler  httpHandlerFunc
}

func newRoute(key string, h httpHandlerFunc) route {
	method, path, _ := strings.Cut(key, " ")
	return route{method: method, segments: strings.Split(strings.Trim(path, "/"), "/"), key: key, handler: h}
}

func (r route) match(method, path string) (map[string]string, bool) {
	if method != r.method {
		return nil, false
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) != len(r.segments) {
		return nil, false
	}
	params := map[string]string{}
	for i, seg := range r.segments {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			if parts[i] == "" {
				return nil, false
			}
			params[seg[1:len(seg)-1]] = parts[i]
		} else if seg != parts[i] {
			return nil, false
		}
	}
	return params, true
}

// apiGateway serves HTTP like an API Gateway HTTP API (payload format 2.0)
// in front of Lambda handlers: unmatched routes answer 404 {"message":"Not
// Found"}, header names are lowercased and repeated headers joined with
// commas, and bodies of non-text content types arrive base64-encoded.
type apiGateway struct {
	routes []route
	now    func() time.Time
}

func (g *apiGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, rt := range g.routes {
		params, ok := rt.match(r.Method, r.URL.Path)
		if !ok {
			continue
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody+1))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Bad Request"})
			return
		}
		if len(body) > maxAPIBody {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "Request Entity Too Large"})
			return
		}
		resp, err := rt.handler(r.Context(), g.event(r, rt, params, body))
		if err != nil {
			// What API Gateway answers when the function returns an error.
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
			return
		}
		writeResponse(w, resp)
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
}

func (g *apiGateway) event(r *http.Request, rt route, params map[string]string, body []byte) events.APIGatewayV2HTTPRequest {
	headers := make(map[string]string, len(r.Header)+1)
	for name, values := range r.Header {
		headers[strings.ToLower(name)] = strings.Join(values, ",")
	}
	headers["host"] = r.Host
	now := g.now()
	e := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       rt.key,
		RawPath:        r.URL.Path,
		RawQueryString: r.URL.RawQuery,
		Headers:        headers,
		PathParameters: params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:  rt.key,
			AccountID: "000000000000",
			Stage:     "$default",
			RequestID: now.Format("20060102T150405.000000000"),
			APIID:     "local",
			Time:      now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  strings.Split(r.RemoteAddr, ":")[0],
				UserAgent: r.UserAgent(),
			},
		},
	}
	if isText(headers["content-type"]) {
		e.Body = string(body)
	} else if len(body) > 0 {
		e.Body, e.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return e
}

// isText reports whether API Gateway passes a body of this content type as
// text rather than base64.
func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript", mt == "application/x-www-form-urlencoded":
		return true
	}
	return false
}

func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
