// Package calendar holds business calendars and the wall-clock resolver that follows RFC 5545 across daylight-saving changes. It is pure: standard library only, the bottom of the domain layer.
//
// It is built by the maintenance-windows issue (#4); nothing uses it yet.
package calendar
