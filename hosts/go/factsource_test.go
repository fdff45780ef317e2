package forgeauthz

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// The answers cross the boundary as the JSON of design §1, written by hand: each must be
// what encoding/json writes from the same value (TestRequestEncoding's rule for requests).
func TestAnswerEncoding(t *testing.T) {
	odd := "q\"b\\s/\n\x00\x1f<>&é😀\u2028\xff(end"
	one, two := int64(1), int64(-2)
	tokens := []TokenRecord{
		{},
		{ID: odd, Owner: "alice", Name: odd, Scopes: []string{"read:repository", odd}, Repositories: []string{"a/b"},
			Owners: []string{"acme"}, Parent: "p", Predecessor: "q", Successor: "r", LastUsed: &one, Created: 5,
			Expires: &two, Revoked: &one, SecretHash: "00ff", Digest: "hmac-tag", IPAllow: []string{"10.0.0.0/8", odd}},
	}
	for _, tr := range tokens {
		same(t, tr.appendJSON(nil), tr)
	}
	for _, u := range []UserFacts{{}, {Status: Suspended, SiteAdmin: true, Visibility: Limited, Organization: true}} {
		same(t, u.appendJSON(nil), u)
	}
	for _, n := range []NamespaceFacts{{}, {Organization: true, Visibility: Private, MemberRole: RoleWrite, IPAllow: []string{"2001:db8::/32"}}} {
		same(t, n.appendJSON(nil), n)
	}
	repos := []*RepositoryFacts{
		{},
		{Path: odd, OwnerVisibility: Public, Private: true, Kind: Import, Archived: true, Role: RoleAdmin, Registrant: "bob",
			OwnerIPAllow: []string{"192.0.2.0/24", odd},
			ProtectedRefs: []ProtectedRef{{Pattern: "main"}, {Pattern: odd, Push: Admins, ForcePush: Users()},
				{Pattern: "x", Push: Users("a", odd), ForcePush: Nobody}}},
		nil,
	}
	for _, r := range repos[:2] {
		same(t, r.appendJSON(nil), r)
	}
	same(t, appendRepositories(nil, repos), repos)
	same(t, appendRepositories(nil, nil), []*RepositoryFacts{})
	// SSH keys: read_only always written, the public key (which decides nothing) never.
	for _, k := range []SSHKeyFact{{ID: "k", Kind: "user", Owner: odd}, {ID: "d", Kind: "deploy", Repository: "a/b", ReadOnly: true, PublicKey: "ssh-ed25519 AAAA"}} {
		want := map[string]interface{}{"id": k.ID, "kind": k.Kind, "read_only": k.ReadOnly}
		if k.Owner != "" {
			want["owner"] = k.Owner
		}
		if k.Repository != "" {
			want["repository"] = k.Repository
		}
		same(t, k.appendJSON(nil), want)
	}
}

// same checks that got is valid JSON equal to encoding/json's encoding of want.
func same(t *testing.T, got []byte, want interface{}) {
	t.Helper()
	ref, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(got) {
		t.Fatalf("not JSON: %s", got)
	}
	if ok, err := sameJSON(got, ref); err != nil || !ok {
		t.Errorf("\n got  %s\n want %s (%v)", got, ref, err)
	}
}

// faultSource answers from a world, but injects one fault into one fact (design §7 "Fault
// injection"): every fault must give the policy-failure deny (503), never an error, never
// an allow, never a crash; "absent" must give the world path's ordinary deny.
type faultSource struct {
	*worldSource
	target, fault string
	nested        func() error // the "nested" fault: a call into the library from a callback
}

var errInjected = errors.New("injected store failure")

// inject applies the faults every fact shares; stop: answer (zero, false, err) now.
func (f *faultSource) inject(ctx context.Context, target string) (stop bool, err error) {
	if f.target != target {
		return false, nil
	}
	switch f.fault {
	case "error":
		return true, errInjected
	case "panic":
		panic("injected panic")
	case "absent":
		return true, nil
	case "late, ignoring ctx":
		time.Sleep(3 * faultBudget)
	case "late, honouring ctx":
		<-ctx.Done()
		return true, ctx.Err()
	case "nested":
		return true, f.nested()
	}
	return false, nil
}

const faultBudget = 40 * time.Millisecond

// answer is one fact of a faultSource: the world's, with f's fault when it targets it (the
// shared faults by inject, the fact's own by damage: fault → how to damage the answer).
func answer[T any](f *faultSource, ctx context.Context, target string, world func() (T, bool, error), damage map[string]func(*T)) (T, bool, error) {
	var zero T
	if stop, err := f.inject(ctx, target); stop {
		return zero, false, err
	}
	v, ok, err := world()
	if d := damage[f.fault]; d != nil && f.target == target {
		d(&v)
	}
	return v, ok, err
}

func (f *faultSource) Token(ctx context.Context, id string) (TokenRecord, bool, error) {
	return answer(f, ctx, "token", func() (TokenRecord, bool, error) { return f.worldSource.Token(ctx, id) },
		map[string]func(*TokenRecord){
			"wrong enum":  func(t *TokenRecord) { t.Digest = "md5" },
			"empty field": func(t *TokenRecord) { t.SecretHash = "" },
			"wrong name":  func(t *TokenRecord) { t.ID += "x" },
		})
}

func (f *faultSource) User(ctx context.Context, name string) (UserFacts, bool, error) {
	return answer(f, ctx, "user", func() (UserFacts, bool, error) { return f.worldSource.User(ctx, name) },
		map[string]func(*UserFacts){
			"wrong enum":  func(u *UserFacts) { u.Visibility = "secret" },
			"empty field": func(u *UserFacts) { u.Status = "" },
		})
}

func (f *faultSource) Repository(ctx context.Context, path, viewer string) (RepositoryFacts, bool, error) {
	return answer(f, ctx, "repository", func() (RepositoryFacts, bool, error) { return f.worldSource.Repository(ctx, path, viewer) },
		map[string]func(*RepositoryFacts){
			"wrong enum":  func(r *RepositoryFacts) { r.Role = "owner" },
			"empty field": func(r *RepositoryFacts) { r.Kind = "" },
			"wrong name":  func(r *RepositoryFacts) { r.Path = "alice/elsewhere" },
		})
}

func (f *faultSource) Namespace(ctx context.Context, name, viewer string) (NamespaceFacts, bool, error) {
	return answer(f, ctx, "namespace", func() (NamespaceFacts, bool, error) { return f.worldSource.Namespace(ctx, name, viewer) },
		map[string]func(*NamespaceFacts){
			"wrong enum":  func(n *NamespaceFacts) { n.MemberRole = "owner" },
			"empty field": func(n *NamespaceFacts) { n.Visibility = "" },
		})
}

func (f *faultSource) SSHKey(ctx context.Context, id string) (SSHKeyFact, bool, error) {
	return answer(f, ctx, "ssh_key", func() (SSHKeyFact, bool, error) { return f.worldSource.SSHKey(ctx, id) },
		map[string]func(*SSHKeyFact){
			"wrong enum":  func(k *SSHKeyFact) { k.Kind = "root" },
			"empty field": func(k *SSHKeyFact) { k.Kind = "" },
			"wrong name":  func(k *SSHKeyFact) { k.ID += "x" },
		})
}

// faultWorld is testFacts with an SSH key of alice's and a token of hers (returned).
func faultWorld(t *testing.T, p *Policy) (*Facts, string) {
	t.Helper()
	f := testFacts()
	f.SSHKeys = []SSHKeyFact{{ID: "alice-laptop", Kind: "user", Owner: "alice"}}
	w, err := NewWorldFrom(f)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	is := mint(t, p, w, "faults", "read:repository", "read:organization")
	f.Tokens = []TokenRecord{is.Record}
	return f, is.Secret
}

func TestFactSourceFaults(t *testing.T) {
	p := newPolicy(t)
	p.FactBudget = faultBudget
	facts, secret := faultWorld(t, p)
	ctx := context.Background()
	w, err := NewWorldFrom(facts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// Per fact, a request that asks it (hosts/README.md "Facts"): a token pull asks the
	// token, its owner and the repository; an organisation route the namespace; an SSH
	// key credential the key (before the policy runs, design §1).
	pull := Request{Credential: Bearer(secret), Repository: "alice/secret", Action: Pull}
	requests := map[string]Request{
		"token": pull, "user": pull, "repository": pull,
		"namespace": {Kind: KindAPI, Credential: Bearer(secret), Method: "GET",
			Categories: []Category{CategoryOrganization}, Namespace: "acme"},
		"ssh_key": {Credential: SSHKey("alice-laptop"), Transport: SSH, Repository: "alice/app", Action: Pull},
	}
	faults := []string{"error", "panic", "wrong enum", "empty field", "wrong name",
		"late, ignoring ctx", "late, honouring ctx", "nested"}
	// Not reachable from Go, and so not in the table: a non-JSON answer, an unknown field
	// and "found" without an answer (the trampolines write every answer from a typed value).
	for _, target := range []string{"token", "user", "repository", "namespace", "ssh_key"} {
		req := requests[target]
		// Without a fault the request decides normally.
		base, err := p.DecideWith(ctx, &faultSource{worldSource: &worldSource{f: facts}}, req)
		if err != nil || base.PolicyFailure() {
			t.Fatalf("%s: no fault: %+v %v", target, base, err)
		}
		for _, fault := range faults {
			if fault == "wrong name" && (target == "user" || target == "namespace") {
				continue // their answers name nothing
			}
			src := &faultSource{worldSource: &worldSource{f: facts}, target: target, fault: fault}
			src.nested = func() error {
				_, err := p.Decide(ctx, w, req) // a call into the library from a callback
				return err
			}
			d, err := p.DecideWith(ctx, src, req)
			name := target + ", " + fault
			if err != nil || !d.PolicyFailure() || d.Status != 503 || d.Allowed() || d.Detail == nil {
				t.Errorf("%s: %+v, %v: want the policy-failure deny with a detail", name, d, err)
				continue
			}
			if d.Message != PolicyFailureMessage {
				t.Errorf("%s: message %q", name, d.Message)
			}
			for fault, cause := range map[string]string{"error": errInjected.Error(), "panic": "injected panic"} {
				if fault == src.fault && !strings.Contains(*d.Detail, cause) {
					t.Errorf("%s: detail %q does not name the cause", name, *d.Detail)
				}
			}
		}
		// Absent is no failure: the ordinary deny a world without the fact gives.
		src := &faultSource{worldSource: &worldSource{f: facts}, target: target, fault: "absent"}
		d, err := p.DecideWith(ctx, src, req)
		if target == "ssh_key" {
			// An unknown SSH key is an unreadable request, as with a World (design §1).
			if err == nil {
				t.Errorf("ssh_key absent: %+v, want an error as the world path gives", d)
			}
			continue
		}
		if err != nil || d.PolicyFailure() || d.Allowed() || (d.Status != 401 && d.Status != 404) {
			t.Errorf("%s absent: %+v %v: want an ordinary 401/404 deny", target, d, err)
		}
	}
}

// A batch answered by a BatchSource of the wrong length fails every decision of the batch.
type shortBatch struct{ *worldSource }

func (s shortBatch) Repositories(ctx context.Context, paths []string, viewer string) ([]*RepositoryFacts, error) {
	out := make([]*RepositoryFacts, 0, len(paths))
	for _, p := range paths[1:] {
		r, ok, err := s.Repository(ctx, p, viewer)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, &r)
		} else {
			out = append(out, nil)
		}
	}
	return out, nil
}

func TestFactSourceBatch(t *testing.T) {
	p := newPolicy(t)
	facts, secret := faultWorld(t, p)
	ctx := context.Background()
	req := Request{Credential: Bearer(secret), Action: Pull, Repositories: []string{"alice/app", "alice/secret", "alice/missing"}}
	w, err := NewWorldFrom(facts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	want, err := p.DecideBatch(ctx, w, req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.DecideBatchWith(ctx, &worldSource{f: facts}, req)
	if err != nil || len(got) != len(want) {
		t.Fatalf("%v %v", got, err)
	}
	for i := range want {
		if got[i].Allowed() != want[i].Allowed() || got[i].Reason != want[i].Reason || got[i].Repository != want[i].Repository {
			t.Errorf("%d: %+v, the world says %+v", i, got[i], want[i])
		}
	}
	got, err = p.DecideBatchWith(ctx, shortBatch{&worldSource{f: facts}}, req)
	if err != nil || len(got) != len(req.Repositories) {
		t.Fatalf("%v %v", got, err)
	}
	for i, d := range got {
		if !d.PolicyFailure() || d.Allowed() || d.Repository != req.Repositories[i] {
			t.Errorf("wrong-length batch, %d: %+v: want the policy-failure deny", i, d)
		}
	}
}

// Concurrent DecideWith calls, each with its own handle, on one source (go test -race).
func TestFactSourceConcurrent(t *testing.T) {
	p := newPolicy(t)
	facts, secret := faultWorld(t, p)
	src := &worldSource{f: facts}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				d, err := p.DecideWith(context.Background(), src, Request{Credential: Bearer(secret), Repository: "alice/secret", Action: Pull})
				if err != nil || !d.Allowed() {
					t.Errorf("%+v %v", d, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// effectsSource records the effects a decision tells (EffectsSink).
type effectsSource struct {
	*worldSource
	told []Effects
}

func (s *effectsSource) Effects(_ context.Context, e Effects) { s.told = append(s.told, e) }

// A token's use is told to the store after the decision (design §2, the effects hook), as
// the world path records it on the token (hosts/README.md: last-used).
func TestFactSourceEffects(t *testing.T) {
	p := newPolicy(t)
	facts, secret := faultWorld(t, p)
	src := &effectsSource{worldSource: &worldSource{f: facts}}
	d, err := p.DecideWith(context.Background(), src, Request{Credential: Bearer(secret), Repository: "alice/secret", Action: Pull})
	if err != nil || !d.Allowed() {
		t.Fatalf("%+v %v", d, err)
	}
	if len(src.told) != 1 || src.told[0] != (Effects{Token: facts.Tokens[0].ID, TouchLastUsed: true}) {
		t.Errorf("effects told %+v, want the token's use once", src.told)
	}
	src.told = nil
	if d, err := p.DecideWith(context.Background(), src, Request{Credential: Anonymous(), Repository: "alice/app", Action: Pull}); err != nil || !d.Allowed() || len(src.told) != 0 {
		t.Errorf("anonymous: %+v %v, effects %+v (want none)", d, err, src.told)
	}
}
