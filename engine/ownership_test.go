package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestOwner(t *testing.T) {
	three := []string{"i1", "i2", "i3"}
	tests := []struct {
		name    string
		key     string
		members []string
		want    string
	}{
		{"no members", "api", nil, ""},
		{"one member owns everything", "api", []string{"solo"}, "solo"},
		// Fixed answers: every instance must compute the same owner, so a change of the hash
		// moves every share during a rolling upgrade. Change these only with that in mind.
		{"api of three", "api", three, "i2"},
		{"search of three", "search", three, "i3"},
		{"billing of three", "billing", three, "i1"},
		{"search when i3 left", "search", []string{"i1", "i2"}, "i2"},
		{"billing when i3 left: stays", "billing", []string{"i1", "i2"}, "i1"},
		{"order of members does not matter", "search", []string{"i3", "i1", "i2"}, "i3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Owner(tt.key, tt.members); got != tt.want {
				t.Errorf("Owner(%q, %v) = %q, want %q", tt.key, tt.members, got, tt.want)
			}
		})
	}
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("component-%d", i)
	}
	return out
}

func owners(ks, members []string) map[string]string {
	out := make(map[string]string, len(ks))
	for _, k := range ks {
		out[k] = Owner(k, members)
	}
	return out
}

// TestOwnerSpreadsEvenly: 10,000 components over three instances, each within 5 % of a third.
func TestOwnerSpreadsEvenly(t *testing.T) {
	count := map[string]int{}
	for _, o := range owners(keys(10000), []string{"upstate-a:8080", "upstate-b:8080", "upstate-c:8080"}) {
		count[o]++
	}
	for m, n := range count {
		if n < 3333*95/100 || n > 3334*105/100 {
			t.Errorf("%s owns %d of 10,000, want 3,333 within 5%%", m, n)
		}
	}
}

// TestOwnerMovesOnlyTheShareThatChanged: a join takes keys only to the new member (about a
// quarter of them, joining three); a leave moves only the leaver's keys.
func TestOwnerMovesOnlyTheShareThatChanged(t *testing.T) {
	ks := keys(10000)
	three := []string{"a", "b", "c"}
	before := owners(ks, three)
	joined := owners(ks, append(slices.Clone(three), "d"))
	moved := 0
	for _, k := range ks {
		if joined[k] != before[k] {
			moved++
			if joined[k] != "d" {
				t.Fatalf("join of d moved %s from %s to %s", k, before[k], joined[k])
			}
		}
	}
	if moved < 2500*90/100 || moved > 2500*110/100 {
		t.Errorf("join of a fourth moved %d of 10,000, want about 2,500", moved)
	}
	left := owners(ks, []string{"a", "c"})
	for _, k := range ks {
		if before[k] != "b" && left[k] != before[k] {
			t.Fatalf("leave of b moved %s from %s to %s", k, before[k], left[k])
		}
		if left[k] == "b" {
			t.Fatalf("%s still owned by b, which left", k)
		}
	}
}

// TestOwnerIgnoresMemberOrder: every instance reads the live set in its own order.
func TestOwnerIgnoresMemberOrder(t *testing.T) {
	members := []string{"a", "b", "c", "d", "e"}
	ks := keys(500)
	want := owners(ks, members)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		for k, o := range owners(ks, members) {
			if want[k] != o {
				t.Fatalf("owner of %s is %s with members %v, %s otherwise", k, o, members, want[k])
			}
		}
	}
}

// TestLeadUntil: a term counts until a tenth of the lease before it can run out in the store,
// which sets the expiry only once it has received the renewal sent at sent.
func TestLeadUntil(t *testing.T) {
	sent := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for _, ttl := range []time.Duration{time.Second, 3 * time.Second, 15 * time.Second} {
		until := leadUntil(sent, ttl)
		if !until.Before(sent.Add(ttl)) || until.Sub(sent) != ttl*9/10 {
			t.Errorf("lease %s: leads until %s after sending, want %s", ttl, until.Sub(sent), ttl*9/10)
		}
		if renewEvery(ttl)*2 >= until.Sub(sent) {
			t.Errorf("lease %s: renewing every %s leaves no second try before the term ends", ttl, renewEvery(ttl))
		}
	}
}
