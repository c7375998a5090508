// Package maintenance holds maintenance windows, one-off and recurring, their occurrences and states, as pure functions of the times they are given.
//
// It is built by the maintenance-windows issue (#4); nothing uses it yet.
package maintenance
