package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/jonboulle/clockwork"
)

// webhook POSTs the Statuspage-shaped JSON, signed, to one URL. A 2xx within the target's
// timeout delivers; anything else (a redirect included) is retried.
type webhook struct {
	t       Target
	client  *http.Client
	page    Page
	clock   clockwork.Clock
	version string
}

// Webhook request headers besides the signature.
const (
	IdempotencyHeader = "Idempotency-Key"  // the notification's id, the same on every attempt
	EventHeader       = "Upstate-Event"    // the message's kind
	AttemptHeader     = "Upstate-Attempt"  // 1 for the first attempt
	DeliveryHeader    = "Upstate-Delivery" // the notification's id again, under Upstate's own name
)

func newWebhook(t Target, client *http.Client, page Page, clock clockwork.Clock, version string) (*webhook, error) {
	if err := CheckHTTPURL(t.URL); err != nil {
		return nil, err
	}
	return &webhook{t: t, client: client, page: page, clock: clock, version: version}, nil
}

// CheckHTTPURL accepts absolute http and https URLs only.
func CheckHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid URL %q: want an absolute http or https URL", s)
	}
	return nil
}

func (w *webhook) Send(ctx context.Context, d Delivery) error {
	now := w.clock.Now()
	body, err := json.Marshal(w.page.webhookBody(d, now))
	if err != nil {
		return &Permanent{Err: fmt.Errorf("encode: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.t.URL, bytes.NewReader(body))
	if err != nil {
		return &Permanent{Err: err}
	}
	for k, v := range w.t.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Upstate/"+w.version)
	req.Header.Set(IdempotencyHeader, d.Notification.ID)
	req.Header.Set(DeliveryHeader, d.Notification.ID)
	req.Header.Set(EventHeader, d.Message.Kind)
	req.Header.Set(AttemptHeader, strconv.Itoa(d.Notification.Attempts))
	if w.t.Secret != "" {
		req.Header.Set(SignatureHeader, Sign([]byte(w.t.Secret), now, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	answer := readBounded(resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return httpError(resp, answer, false)
}
