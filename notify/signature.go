package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Webhook signatures, Stripe's scheme: the header
//
//	Upstate-Signature: t=1764230400,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd
//
// carries the Unix time of the attempt and the hex HMAC-SHA256 of "<t>.<body>" under the
// target's secret. A receiver recomputes it over the raw body, compares in constant time, and
// rejects a t older than its tolerance (5 minutes is usual), so a captured request cannot be
// replayed later. Several v1 values may appear while a secret is being rotated.

// SignatureHeader is the header the signature travels in.
const SignatureHeader = "Upstate-Signature"

// DefaultTolerance is how old a signed request may be.
const DefaultTolerance = 5 * time.Minute

// Sign returns the signature header's value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Signature errors.
var (
	ErrBadSignature = errors.New("signature does not match")
	ErrStale        = errors.New("signature too old (a replay?)")
	ErrNoSignature  = errors.New("no valid signature header")
)

// Verify checks a signature header against body at now: the HMAC must match and the timestamp
// be no more than tolerance from now (either way).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
		case k == "t":
			ts = v
		case k == "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		ok = ok || hmac.Equal([]byte(s), []byte(want))
	}
	if !ok {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}
