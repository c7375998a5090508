// Package availability is the pure availability engine: status timelines and maintenance windows in, reports, error budgets and burn rates out. It never reads the clock.
//
// It is built by the availability issue (#6); nothing uses it yet.
package availability
