// Package calendar resolves wall-clock times in named zones and does interval arithmetic on real
// instants. It is the bottom of the domain layer: standard library only.
//
// Wall-clock times follow RFC 5545 section 3.3.5 across daylight-saving changes: a local time that
// happens twice (autumn) means its first occurrence; a local time that does not exist (inside the
// spring gap) moves forward by the length of the gap (02:30 becomes 03:30). Go's time.Date leaves
// both cases unspecified (it returns 01:30 PST for 02:30 on the spring day in Los Angeles), so
// nothing here builds a wall-clock instant with time.Date in a zone that has DST.
package calendar
