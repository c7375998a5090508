package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// ms is t as the store keeps it: UTC, whole milliseconds; zero stays zero.
func ms(t time.Time) time.Time { return FromMillis(Millis(t)) }

// NormalizeNotification is n as a backend keeps it: its times in UTC at millisecond precision,
// so what is read back equals what was stored.
func NormalizeNotification(n Notification) Notification {
	n.CreatedAt, n.NextAt, n.UpdatedAt, n.DeliveredAt = ms(n.CreatedAt), ms(n.NextAt), ms(n.UpdatedAt), ms(n.DeliveredAt)
	if len(n.Payload) == 0 {
		n.Payload = Null
	}
	return n
}

// EncodeNotification is a notification as both backends store it.
func EncodeNotification(n Notification) []byte { return MustJSON(NormalizeNotification(n)) }

// DecodeNotification reads a stored notification.
func DecodeNotification(b []byte) (Notification, error) {
	var n Notification
	if err := json.Unmarshal(b, &n); err != nil {
		return n, fmt.Errorf("decode notification: %w", err)
	}
	return NormalizeNotification(n), nil
}

// Claimed is n claimed at now until until: the change ClaimNotifications makes.
func Claimed(n Notification, now, until time.Time) Notification {
	n.State, n.Attempts, n.NextAt, n.UpdatedAt, n.Version = NotificationSending, n.Attempts+1, until, now, n.Version+1
	return NormalizeNotification(n)
}

// NormalizeJournalEntry is e as a backend keeps it.
func NormalizeJournalEntry(e JournalEntry) JournalEntry {
	e.At = ms(e.At)
	if len(e.Body) == 0 {
		e.Body = Null
	}
	return e
}

// NextLease is what AcquireLease stores when holder asks for name at now: the lease it gets,
// and whether it gets it, given the stored one (zero Name: none).
func NextLease(stored Lease, name, holder string, now time.Time, ttl time.Duration) (Lease, bool) {
	switch {
	case stored.Name == "":
		return Lease{Name: name, Holder: holder, Token: 1, Expires: ms(now.Add(ttl))}, true
	case stored.Holder == holder && now.Before(stored.Expires):
		stored.Expires = ms(now.Add(ttl))
		return stored, true
	case !now.Before(stored.Expires):
		return Lease{Name: name, Holder: holder, Token: stored.Token + 1, Expires: ms(now.Add(ttl))}, true
	}
	return stored, false
}
