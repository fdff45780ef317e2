package forgeauthz

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"
)

// benchNow is tests/benches/decide.rs's NOW (2026-01-01T00:00:00Z).
const benchNow = 1767225600

// tokenPull is the case of the Rust host's bench group host_token_pull
// (tests/benches/decide.rs, host_api): the same world, a token minted for alice with
// read:repository through Issue, and a pull of alice/app with it as a bearer.
func tokenPull(b *testing.B) (*Policy, *World, Request) {
	p, w, req, _ := tokenPullWith(b)
	return p, w, req
}

// benchSource is tokenPull's facts as an in-memory FactSource (no store I/O): the
// callback path's own cost.
type benchSource struct{ token TokenRecord }

func (s *benchSource) Now() int64 { return benchNow }

func (s *benchSource) Token(_ context.Context, id string) (TokenRecord, bool, error) {
	return s.token, id == s.token.ID, nil
}

func (s *benchSource) User(_ context.Context, name string) (UserFacts, bool, error) {
	return UserFacts{Status: Active, Visibility: Public}, name == "alice", nil
}

func (s *benchSource) Repository(_ context.Context, path, viewer string) (RepositoryFacts, bool, error) {
	role := RoleNone
	if viewer == "alice" {
		role = RoleAdmin
	}
	return RepositoryFacts{OwnerVisibility: Public, Kind: Hosted, Role: role}, path == "alice/app", nil
}

func (s *benchSource) Namespace(context.Context, string, string) (NamespaceFacts, bool, error) {
	return NamespaceFacts{}, false, nil
}

// tokenPullWith is tokenPull with the same facts as a FactSource.
func tokenPullWith(b *testing.B) (*Policy, *World, Request, *benchSource) {
	b.Helper()
	p, err := LoadPolicy(nil, Config{Keys: []Key{{ID: "k1", Secret: bytes.Repeat([]byte{0x07}, 32)}}, SigningKey: "k1"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	w, err := NewWorld([]byte(`{"now": 1767225600,
		"keys": [{"id": "k1", "secret": "0707070707070707070707070707070707070707070707070707070707070707"}],
		"signing_key": "k1",
		"users": [{"name": "alice", "status": "active", "site_admin": false, "visibility": "public"}],
		"repositories": [{"owner": "alice", "name": "app", "private": false, "kind": "hosted",
		                  "archived": false, "collaborators": {}}]}`))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Close)
	is, err := p.Issue(context.Background(), w, Mint{Owner: "alice", Name: "bench", Scopes: []string{"read:repository"}, ExpiresIn: 86400, Now: benchNow})
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Credential: Bearer(is.Secret), Repository: "alice/app", Action: Pull}
	src := &benchSource{token: is.Record}
	// Warm: an instance in the pool, its caches and the CPU's (without this the first
	// sub-benchmark measured ~1.5 µs more than when run alone).
	for i := 0; i < 20000; i++ {
		d, err := p.Decide(context.Background(), w, req)
		if err != nil || !d.Allowed() || d.Reason != "granted" {
			b.Fatalf("token pull: %+v %v", d, err)
		}
		if d, err = p.DecideWith(context.Background(), src, req); err != nil || !d.Allowed() || d.Reason != "granted" {
			b.Fatalf("token pull through callbacks: %+v %v", d, err)
		}
	}
	return p, w, req, src
}

// medianLoop runs f b.N times in batches and reports the median batch's ns per call
// (median-ns/op) beside Go's mean (ns/op): a GC pause or a scheduler hiccup moves the
// mean, not the median.
func medianLoop(b *testing.B, f func()) {
	const batch = 200
	var per []float64
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := batch
		if b.N-done < n {
			n = b.N - done
		}
		start := time.Now()
		for i := 0; i < n; i++ {
			f()
		}
		per = append(per, float64(time.Since(start).Nanoseconds())/float64(n))
		done += n
	}
	b.StopTimer()
	sort.Float64s(per)
	b.ReportMetric(per[len(per)/2], "median-ns/op")
}

// BenchmarkDecideTokenPull is the Go host's per-call cost of the token pull (the figure of
// README.md and issue 12), warm: typed Request in, typed Decision out, through cgo and the
// C ABI (JSON both ways). json: the same request as JSON, the raw decision out (the C ABI
// cost plus the cgo call). callbacks: typed, with the facts from an in-memory FactSource
// called back during the decision (DecideWith) instead of a World. parallel: from every
// core at once.
//
//	go test -tags forgeauthz_release -run '^$' -bench DecideTokenPull -benchtime 2s
func BenchmarkDecideTokenPull(b *testing.B) {
	p, w, req, src := tokenPullWith(b)
	ctx := context.Background()
	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		medianLoop(b, func() {
			d, err := p.Decide(ctx, w, req)
			if err != nil || !d.Allowed() {
				b.Fatal(d, err)
			}
		})
	})
	b.Run("callbacks", func(b *testing.B) {
		b.ReportAllocs()
		medianLoop(b, func() {
			d, err := p.DecideWith(ctx, src, req)
			if err != nil || !d.Allowed() {
				b.Fatal(d, err)
			}
		})
	})
	reqJSON, err := json.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		medianLoop(b, func() {
			raw, err := p.DecideJSON(ctx, w, reqJSON)
			if err != nil || !raw.Allowed() {
				b.Fatal(err)
			}
		})
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d, err := p.Decide(ctx, w, req)
				if err != nil || !d.Allowed() {
					b.Fatal(d, err)
				}
			}
		})
	})
}

// BenchmarkDecide times other calls a forge makes: an anonymous pull, a pull with the
// world built for the request (a forge that reads the facts per request), Verify, Issue.
func BenchmarkDecide(b *testing.B) {
	p, w, req := tokenPull(b)
	ctx := context.Background()
	b.Run("anonymous-pull", func(b *testing.B) {
		anon := Request{Credential: Anonymous(), Repository: "alice/app", Action: Pull}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			d, err := p.Decide(ctx, w, anon)
			if err != nil || !d.Allowed() {
				b.Fatal(d, err)
			}
		}
	})
	is, err := p.Issue(ctx, w, Mint{Owner: "alice", Name: "per-request", Scopes: []string{"read:repository"}, ExpiresIn: 86400})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("token-pull-world-per-request", func(b *testing.B) {
		facts := &Facts{
			Now:          benchNow,
			Users:        []User{{Name: "alice", Status: Active, Visibility: Public}},
			Repositories: []Repository{{Owner: "alice", Name: "app", Kind: Hosted}},
			Tokens:       []TokenRecord{is.Record},
		}
		req := Request{Credential: Bearer(is.Secret), Repository: "alice/app", Action: Pull}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			w, err := NewWorldFrom(facts)
			if err != nil {
				b.Fatal(err)
			}
			d, err := p.Decide(ctx, w, req)
			w.Close()
			if err != nil || !d.Allowed() {
				b.Fatal(d, err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if v, err := p.Verify(ctx, req.Credential); err != nil || !v.Genuine() {
				b.Fatal(v, err)
			}
		}
	})
}
