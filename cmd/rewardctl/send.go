package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/spf13/cobra"

	"github.com/rewardrelay/rewardrelay/cmd/rewardctl/internal/localstack"
	webhookhandler "github.com/rewardrelay/rewardrelay/functions/webhook/handler"
	"github.com/rewardrelay/rewardrelay/shared/webhook"
)

func sendCommand(opts *options) *cobra.Command {
	var provider, url string
	cmd := &cobra.Command{
		Use:   "send <event.json>",
		Short: "Sign a webhook like the platform does and post it",
		Long: `Reads a sample (an API Gateway event from events/, or a bare webhook body),
signs its body with the configured secret and the current time, and posts it to
the local stack (or --url: another stack, in AWS its webhook URL up to
/webhooks). Prints the status and the answer. A sample whose own credentials
do not hold (events/*-bad-signature.json) is sent as it is, to be refused.`,
		Args: exactArgs("<event.json>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if provider != "" {
				if err := checkProvider(provider); err != nil {
					return err
				}
			}
			get, err := sendSettings(opts, &url)
			if err != nil {
				return err
			}
			s, err := readSample(args[0], provider)
			if err != nil {
				return err
			}
			req, asIs, err := s.request(strings.TrimRight(url, "/"), get, time.Now())
			if err != nil {
				return err
			}
			if asIs {
				fmt.Fprintln(cmd.ErrOrStderr(), "the sample's own credentials do not hold: it is sent with them, to be refused")
			}
			resp, err := http.DefaultClient.Do(req.WithContext(cmd.Context()))
			if err != nil {
				return fmt.Errorf("post to %s: %w", req.URL, err)
			}
			defer resp.Body.Close()
			answer, _ := io.ReadAll(resp.Body)
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", resp.Status, bytes.TrimSpace(answer))
			if resp.StatusCode >= 300 {
				return fmt.Errorf("the webhook was not accepted (%s)", resp.Status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&provider, "provider", "", "firstpromoter or agentref (default: the sample's path parameter)")
	cmd.Flags().StringVar(&url, "url", "", "base URL of the stack (default: the running local stack's)")
	return cmd
}

// sendSettings finds where to send and what to sign with: the local stack's
// API and secrets, or, with --url, the environment's secrets (else
// events/env.json's).
func sendSettings(opts *options, url *string) (func(string) string, error) {
	if *url != "" {
		path, err := opts.envFilePath()
		if err != nil {
			return os.Getenv, nil
		}
		settings, err := localstack.LoadSettings(path)
		if err != nil {
			return nil, err
		}
		return settings.Get, nil
	}
	kind, err := opts.targetKind()
	if err != nil {
		return nil, err
	}
	if kind == targetAWS {
		return nil, fmt.Errorf("send needs --url against AWS: the stack's webhook URL up to /webhooks (its FirstPromoterWebhookURL output without /webhooks/firstpromoter)")
	}
	st, err := opts.localState()
	if err != nil {
		return nil, err
	}
	*url = st.APIURL
	return opts.localSettings(st)
}

// sample is a webhook to send: a bare body, or an API Gateway event (from
// events/) with the headers its platform sent.
type sample struct {
	provider webhook.Provider
	body     []byte
	// header is the sample's own headers, lowercased (none for a bare body).
	header webhook.Header
	// signedAt is when the sample says it was signed.
	signedAt time.Time
}

// readSample reads a sample file.
func readSample(path, provider string) (sample, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return sample{}, err
	}
	s := sample{body: raw}
	var e events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &e); err == nil && e.RouteKey != "" {
		s.body = []byte(e.Body)
		if e.IsBase64Encoded {
			if s.body, err = base64.StdEncoding.DecodeString(e.Body); err != nil {
				return sample{}, fmt.Errorf("%s: the body is not base64: %w", path, err)
			}
		}
		s.header = webhook.Header{}
		for k, v := range e.Headers {
			s.header[strings.ToLower(k)] = v
		}
		s.signedAt = time.UnixMilli(e.RequestContext.TimeEpoch)
		if ts, err := strconv.ParseInt(s.header.Get("svix-timestamp"), 10, 64); err == nil {
			s.signedAt = time.Unix(ts, 0)
		}
		if provider == "" {
			provider = e.PathParameters["provider"]
		}
	}
	s.provider = webhook.Provider(provider)
	if s.provider != webhook.FirstPromoter && s.provider != webhook.AgentRef {
		return sample{}, fmt.Errorf("%s: say which provider with --provider firstpromoter or --provider agentref", path)
	}
	return s, nil
}

// request is what send posts: the sample signed now, as its platform signs,
// unless the sample carries credentials that do not hold for the settings
// (a sample meant to be refused, such as events/*-bad-signature.json): that
// one goes with its own credentials (asIs), to be refused for them. Its
// AgentRef timestamp is now's, so that the signature, not the replay
// window, decides.
func (s sample) request(baseURL string, get func(string) string, now time.Time) (req *http.Request, asIs bool, err error) {
	if s.meantToFail(get) {
		req, err := http.NewRequest(http.MethodPost, baseURL+"/webhooks/"+string(s.provider), bytes.NewReader(s.body))
		if err != nil {
			return nil, false, err
		}
		for k, v := range s.header {
			switch k {
			case "host", "content-length", "x-forwarded-for":
				continue
			}
			req.Header.Set(k, v)
		}
		if req.Header.Get("svix-timestamp") != "" {
			req.Header.Set("svix-timestamp", strconv.FormatInt(now.Unix(), 10))
		}
		return req, true, nil
	}
	req, err = signedRequest(baseURL, s.provider, s.body, get, now)
	return req, false, err
}

// meantToFail reports whether the sample's own credentials are refused,
// checked as the webhook function checks them at the time they were made.
func (s sample) meantToFail(get func(string) string) bool {
	tokenHeader := get("FIRSTPROMOTER_WEBHOOK_TOKEN_HEADER")
	if tokenHeader == "" {
		tokenHeader = "authorization"
	}
	carries := false
	for _, name := range []string{"x-webhook-signature", "svix-signature", "authorization", tokenHeader} {
		carries = carries || s.header.Get(name) != ""
	}
	if !carries {
		return false
	}
	in, err := webhook.New(webhookhandler.Settings(get), func() time.Time { return s.signedAt })
	if err != nil {
		return false
	}
	_, err = in.Check(webhook.Request{Method: http.MethodPost, Provider: string(s.provider), Header: s.header, Body: s.body})
	return errors.Is(err, webhook.ErrUnauthenticated)
}

// signedRequest builds the request a platform would send for body.
func signedRequest(baseURL string, p webhook.Provider, body []byte, get func(string) string, now time.Time) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, baseURL+"/webhooks/"+string(p), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	switch p {
	case webhook.FirstPromoter:
		secrets := webhookhandler.List(get("FIRSTPROMOTER_WEBHOOK_SECRETS"))
		if len(secrets) == 0 {
			return nil, fmt.Errorf("FIRSTPROMOTER_WEBHOOK_SECRETS is empty: nothing to sign with")
		}
		req.Header.Set("X-Webhook-Signature", webhook.SignFirstPromoter(secrets[0], body))
	case webhook.AgentRef:
		secrets := webhookhandler.List(get("AGENTREF_WEBHOOK_SECRETS"))
		if len(secrets) == 0 {
			return nil, fmt.Errorf("AGENTREF_WEBHOOK_SECRETS is empty: nothing to sign with")
		}
		var env struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &env); err != nil || env.ID == "" {
			env.ID = "msg_" + strconv.FormatInt(now.UnixNano(), 36)
		}
		sig, err := webhook.SignAgentRef(secrets[0], env.ID, now.Unix(), body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("svix-id", env.ID)
		req.Header.Set("svix-timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("svix-signature", sig)
	}
	return req, nil
}
