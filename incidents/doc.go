// Package incidents holds incidents, their updates and lifecycle, and the service-level clocks (first response and resolution) measured on business calendars. It is pure: no storage, no HTTP.
//
// It is built by the incidents issue (#5); nothing uses it yet.
package incidents
