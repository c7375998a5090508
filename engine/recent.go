package engine

import (
	"time"

	"github.com/upstate-dev/upstate/probe"
)

// recentResults is how many results each monitor keeps in memory for the API: ten minutes at
// the default 10 s interval.
const recentResults = 60

// recentRing holds a monitor's last results, compacted: ten thousand monitors keep 600,000 of
// them, which as probe.Result (120 bytes and a pointer-rich layout the collector must scan)
// would be 72 MB. A kept result takes 32 bytes and holds no pointer, so the collector never
// scans the 19 MB of rings; the failure reasons, the only strings, live beside them in an array
// allocated at a monitor's first failure (most monitors never fail). The ring is allocated whole
// with its runner, so memory does not grow after start.
type recentRing struct {
	buf     [recentResults]keptResult
	reasons *[recentResults]string // nil until the first result with a reason
	next    int                    // where the next result goes
	n       int                    // results kept, at most recentResults
}

type keptResult struct {
	at           int64 // Unix nanoseconds, UTC
	duration     time.Duration
	certNotAfter int64 // Unix seconds (certificates have whole seconds); 0 for none
	statusCode   uint16
	ok           bool
	phase        uint8 // index in phases
}

// phases index the failure phases a kept result can have. A phase missing here would be kept
// as part of the reason: see add.
var phases = []probe.Phase{probe.PhaseNone, probe.PhaseDNS, probe.PhaseConnect, probe.PhaseTLS, probe.PhaseHTTP,
	probe.PhaseAssertion, probe.PhaseTimeout, probe.PhaseHeartbeat}

func (rr *recentRing) add(r probe.Result) {
	k := keptResult{at: r.At.UnixNano(), duration: r.Duration, ok: r.OK,
		statusCode: uint16(min(max(r.StatusCode, 0), 0xffff))}
	if !r.CertNotAfter.IsZero() {
		k.certNotAfter = r.CertNotAfter.Unix()
	}
	reason := r.Reason
	k.phase = 0xff
	for i, p := range phases {
		if p == r.Phase {
			k.phase = uint8(i)
		}
	}
	if k.phase == 0xff { // never for the phases probe defines; kept readable all the same
		k.phase, reason = 0, string(r.Phase)+": "+r.Reason
	}
	rr.buf[rr.next] = k
	if reason != "" && rr.reasons == nil {
		rr.reasons = new([recentResults]string)
	}
	if rr.reasons != nil {
		rr.reasons[rr.next] = reason
	}
	rr.next = (rr.next + 1) % recentResults
	rr.n = min(rr.n+1, recentResults)
}

// result is the kept result at index i of the ring.
func (rr *recentRing) result(i int, monitorID string) probe.Result {
	k := rr.buf[i]
	r := probe.Result{MonitorID: monitorID, At: time.Unix(0, k.at).UTC(), OK: k.ok, Duration: k.duration,
		Phase: phases[k.phase], StatusCode: int(k.statusCode)}
	if rr.reasons != nil {
		r.Reason = rr.reasons[i]
	}
	if k.certNotAfter != 0 {
		r.CertNotAfter = time.Unix(k.certNotAfter, 0).UTC()
	}
	return r
}

// last is the newest result, if any.
func (rr *recentRing) last(monitorID string) (probe.Result, bool) {
	if rr.n == 0 {
		return probe.Result{}, false
	}
	return rr.result((rr.next+recentResults-1)%recentResults, monitorID), true
}

// all returns the kept results, oldest first.
func (rr *recentRing) all(monitorID string) []probe.Result {
	out := make([]probe.Result, 0, rr.n)
	for i := range rr.n {
		out = append(out, rr.result((rr.next+recentResults-rr.n+i)%recentResults, monitorID))
	}
	return out
}
