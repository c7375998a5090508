// Package notify holds the notifiers (email, webhooks) and the outbox dispatcher that delivers each notification until it succeeds.
//
// It is built by the notifications work; nothing uses it yet.
package notify
