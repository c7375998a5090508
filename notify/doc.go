// Package notify tells people what happened: it routes the journal's events to targets (email,
// webhooks, chat, PagerDuty), escalates unacknowledged incidents on their policy's calendar, and
// delivers every notification from the store's outbox at least once, with retries.
//
// The flow (docs/notifications.md):
//
//	service change + its event, one transaction  ->  journal (store)
//	Router: journal, by a stored cursor  ->  routes, grouping  ->  outbox rows, keyed by what and where
//	Router: open incidents on the clock  ->  escalation steps, repeats, SLA warnings  ->  outbox rows
//	Dispatcher (one instance, by a lease): due rows  ->  Channel.Send  ->  delivered, retried or dead
//
// Every write goes through service.Notifications; reads come from the store.
package notify
